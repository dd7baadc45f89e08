"""Anthropic's Messages API: system prompt as a top-level field, content as a list of blocks."""

from __future__ import annotations

import json
from typing import Any

import httpx

from model_serving.router.models import ChatRequest
from model_serving.router.providers.base import Completion, Provider

ANTHROPIC_VERSION = "2023-06-01"
_JSON_ONLY = "Answer with one JSON object and nothing else."


class AnthropicProvider(Provider):
    """`POST {base_url}/v1/messages` with `x-api-key` and `anthropic-version` headers."""

    name = "anthropic"
    is_cloud = True
    no_training = True

    def __init__(self, model: str, client: httpx.Client, *, base_url: str, api_key: str) -> None:
        super().__init__(model, client)
        self._url = base_url.rstrip("/").removesuffix("/v1") + "/v1/messages"
        self._headers = {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION}

    def complete(self, request: ChatRequest) -> Completion:
        system = [m.content for m in request.messages if m.role == "system"]
        if request.response_format == "json":  # no JSON mode on the Messages API: ask for it instead
            system.append(_JSON_ONLY)
            if request.json_schema is not None:
                system.append(f"The object must match this JSON Schema:\n{json.dumps(request.json_schema)}")
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": min(request.temperature, 1.0),  # Anthropic's range is 0..1
            "messages": [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"],
        }
        if system:
            body["system"] = "\n\n".join(system)
        data = self._post(self._url, self._headers, body)
        try:
            text = "".join(block["text"] for block in data["content"] if block.get("type") == "text")
            usage = data["usage"]
            return Completion(content=text, tokens_in=int(usage["input_tokens"]),
                              tokens_out=int(usage["output_tokens"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed(data, exc) from exc
