"""OpenAI's Chat Completions wire format: OpenAI itself and the self-hosted servers that copy it."""

from __future__ import annotations

from typing import Any

import httpx

from model_serving.router.models import ChatRequest
from model_serving.router.providers.base import Completion, Provider


def chat_completions_body(request: ChatRequest, model: str | None, dialect: str = "openai") -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [m.model_dump() for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if model is not None:
        body["model"] = model
    if request.response_format == "json":
        body["response_format"] = response_format(request.json_schema, dialect)
    return body


def response_format(schema: dict[str, Any] | None, dialect: str) -> dict[str, Any]:
    """JSON mode, constrained to `schema` where given, in each server's spelling: llama.cpp's server takes the
    schema inside `json_object`, TGI a `json` grammar, and OpenAI, Azure, vLLM and Ollama OpenAI's structured
    outputs (`json_schema`)."""
    if schema is None:
        return {"type": "json_object"}
    if dialect == "llamacpp":
        return {"type": "json_object", "schema": schema}
    if dialect == "tgi":
        return {"type": "json", "value": schema}
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


class OpenAICompatibleProvider(Provider):
    """`POST {base_url}/v1/chat/completions`; vLLM, TGI, Ollama and llama.cpp serve the same route."""

    def __init__(self, name: str, model: str, client: httpx.Client, *, base_url: str, api_key: str | None,
                 is_cloud: bool, no_training: bool) -> None:
        super().__init__(model, client)
        self.name = name
        self.is_cloud = is_cloud
        self.no_training = no_training
        self._url = base_url.rstrip("/").removesuffix("/v1") + "/v1/chat/completions"
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}

    def complete(self, request: ChatRequest) -> Completion:
        data = self._post(self._url, self._headers, chat_completions_body(request, self.model, self.name))
        return self._parse(data)

    def _parse(self, data: dict[str, Any]) -> Completion:
        try:
            usage = data["usage"]
            return Completion(content=data["choices"][0]["message"]["content"] or "",
                              tokens_in=int(usage["prompt_tokens"]), tokens_out=int(usage["completion_tokens"]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise self._malformed(data, exc) from exc


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """Azure OpenAI: the model is a deployment; the URL carries it and the API version, the key an api-key header."""

    def __init__(self, deployment: str, client: httpx.Client, *, endpoint: str, api_key: str,
                 api_version: str) -> None:
        super().__init__("azure", deployment, client, base_url=endpoint, api_key=None, is_cloud=True,
                         no_training=True)
        self._url = (f"{endpoint.rstrip('/')}/openai/deployments/{deployment}/chat/completions"
                     f"?api-version={api_version}")
        self._headers = {"api-key": api_key}

    def complete(self, request: ChatRequest) -> Completion:
        return self._parse(self._post(self._url, self._headers, chat_completions_body(request, None)))
