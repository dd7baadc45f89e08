"""How many tokens a model reads at once (prompt and answer together): each step's context budget is cut from it.

`TICKETPILOT_LLM_CONTEXT_TOKENS` names it for the configured model (a self-hosted server started with a smaller
`--max-model-len` or `--n_ctx` than the model could take, for instance). Otherwise the model's name decides, from
the vendors' published limits; an unknown model gets 8,192 tokens, the floor of today's served models, so its
prompts fit rather than fail. The embedded SmolLM2 server runs with 2,048.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from model_serving.local.server import CONTEXT_TOKENS as LOCAL_CONTEXT_TOKENS
from model_serving.local.server import MODEL_ALIAS as LOCAL_ALIAS

CONTEXT_TOKENS_ENV = "TICKETPILOT_LLM_CONTEXT_TOKENS"
DEFAULT_CONTEXT_TOKENS = 8192
MIN_CONTEXT_TOKENS = 1024

_BY_NAME: tuple[tuple[str, int], ...] = (
    # model-name prefix (after the provider, lower case), tokens; the first prefix that matches wins
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("gpt-4o", 128_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("qwen2.5", 32_768),
    ("qwen3", 32_768),
    ("llama-3", 128_000),
    ("meta-llama/llama-3", 128_000),
    ("qwen/qwen2.5", 32_768),
    ("qwen/qwen3", 32_768),
    (LOCAL_ALIAS, LOCAL_CONTEXT_TOKENS),
)
_BY_PROVIDER = {"replay": 128_000}  # the replay model reads anything; the cap is what a cloud model would take


def context_window(spec: str, env: Mapping[str, str] | None = None) -> int:
    """The context window of `spec` ("provider:model") in tokens."""
    raw = (os.environ if env is None else env).get(CONTEXT_TOKENS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < MIN_CONTEXT_TOKENS:
            raise ValueError(f"{CONTEXT_TOKENS_ENV}={raw!r} must be a whole number of tokens, at least "
                             f"{MIN_CONTEXT_TOKENS}")
        return int(raw)
    provider, _, model = spec.partition(":")
    if provider in _BY_PROVIDER:
        return _BY_PROVIDER[provider]
    name = model.lower()
    return next((tokens for prefix, tokens in _BY_NAME if name.startswith(prefix)), DEFAULT_CONTEXT_TOKENS)
