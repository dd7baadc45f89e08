"""Data-quality suites on the platform's own data (Great Expectations)."""
