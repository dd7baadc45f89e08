"""Anthropic's Messages API through pydantic-ai's `AnthropicModel` over the official `anthropic` SDK.

The Messages API has no JSON mode, so a JSON ask is told so in the system prompt, with its schema."""

from __future__ import annotations

import json

from anthropic import AsyncAnthropic
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.providers.anthropic import AnthropicProvider as _SdkAnthropic
from pydantic_ai.settings import ModelSettings

from model_serving.router.models import ChatMessage, ChatRequest
from model_serving.router.providers.base import Provider

_JSON_ONLY = "Answer with one JSON object and nothing else."


class AnthropicProvider(Provider):
    """`POST {base_url}/v1/messages`; SDK retries off, as for every provider (the router's chain retries)."""

    def __init__(self, model: str, *, base_url: str, api_key: str, timeout_s: float) -> None:
        client = AsyncAnthropic(base_url=base_url.rstrip("/").removesuffix("/v1"), api_key=api_key, max_retries=0,
                                timeout=timeout_s)
        transport = AnthropicModel(model, provider=_SdkAnthropic(anthropic_client=client))
        super().__init__("anthropic", model, transport, is_cloud=True, no_training=True, close=client.close)

    def settings_for(self, request: ChatRequest) -> ModelSettings:
        return ModelSettings(max_tokens=request.max_tokens, temperature=min(request.temperature, 1.0))

    def prepare(self, request: ChatRequest) -> tuple[list[ModelMessage], ModelSettings]:
        if request.response_format == "json":
            rules = [_JSON_ONLY]
            if request.json_schema is not None:
                rules.append(f"The object must match this JSON Schema:\n{json.dumps(request.json_schema)}")
            request = request.model_copy(update={"messages": [
                *request.messages, ChatMessage(role="system", content="\n\n".join(rules))]})
        return super().prepare(request)

