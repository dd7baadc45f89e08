"""HTTP emulators of LLM APIs for tests: deterministic answers, recorded requests, injectable faults. Not models."""
