"""The embedded local model (llama.cpp serving SmolLM2-135M-Instruct), the default when no other is configured."""

from __future__ import annotations

from model_serving.local.server import (
    MODEL_ALIAS,
    MODEL_SPEC,
    LocalModelServer,
    LocalModelUnavailable,
    available,
    find_smollm2_gguf,
)

__all__ = ["MODEL_ALIAS", "MODEL_SPEC", "LocalModelServer", "LocalModelUnavailable", "available",
           "find_smollm2_gguf"]
