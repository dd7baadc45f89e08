"""Context windows: named by the environment, else by the model's name; an unknown model gets a safe floor."""

from __future__ import annotations

import pytest

from include.agents import llm
from model_serving.local.server import CONTEXT_TOKENS, MODEL_SPEC
from model_serving.router.windows import CONTEXT_TOKENS_ENV, DEFAULT_CONTEXT_TOKENS, context_window


@pytest.mark.parametrize(("spec", "tokens"), [
    ("openai:gpt-4o-mini", 128_000),
    ("azure:gpt-4.1-mini", 1_047_576),
    ("anthropic:claude-3-5-haiku-latest", 200_000),
    ("vllm:Qwen/Qwen2.5-7B-Instruct", 32_768),
    (MODEL_SPEC, CONTEXT_TOKENS),
    ("ollama:some-model", DEFAULT_CONTEXT_TOKENS),
])
def test_the_models_name_decides_its_window(spec: str, tokens: int) -> None:
    assert context_window(spec, {}) == tokens


def test_the_environment_names_the_window_of_a_server_started_smaller() -> None:
    assert context_window("vllm:Qwen/Qwen2.5-7B-Instruct", {CONTEXT_TOKENS_ENV: "4096"}) == 4096
    with pytest.raises(ValueError, match=CONTEXT_TOKENS_ENV):
        context_window("openai:gpt-4o", {CONTEXT_TOKENS_ENV: "12"})


def test_untrusted_text_fills_what_the_window_leaves_at_most_half_of_it() -> None:
    assert llm.untrusted_chars(2048, 400, 1500) == (2048 - 400 - 500 - 150) * llm.CHARS_PER_TOKEN
    assert llm.untrusted_chars(200_000, 4000, 1500) == 100_000 * llm.CHARS_PER_TOKEN
    assert llm.untrusted_chars(1024, 900, 3000) == llm.MIN_UNTRUSTED_CHARS
