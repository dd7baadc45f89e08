"""OpenAI's Chat Completions format: OpenAI itself, Azure OpenAI and the self-hosted servers that copy it
(vLLM, TGI, Ollama, llama.cpp), all through pydantic-ai's `OpenAIChatModel` over the official `openai` SDK.

The SDK's own retries are off (`max_retries=0`): the router's fallback chain is the retry, and each attempt
it makes is admitted and costed; an SDK retrying behind it would spend money no ledger row shows."""

from __future__ import annotations

from typing import Any

from openai import AsyncAzureOpenAI, AsyncOpenAI
from pydantic_ai.embeddings.openai import OpenAIEmbeddingModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.profiles.openai import OpenAIModelProfile
from pydantic_ai.providers.openai import OpenAIProvider as _SdkOpenAI
from pydantic_ai.settings import ModelSettings

from model_serving.router.models import ChatRequest
from model_serving.router.providers.base import Provider

JSON_ACTION_SERVERS = frozenset({"llamacpp", "tgi", "ollama"})
"""Servers whose tool calling depends on the served model's chat template: they get JSON actions instead."""
SELF_HOSTED_PROFILE = OpenAIModelProfile(
    openai_chat_supports_max_completion_tokens=False,  # vLLM, TGI, Ollama and llama.cpp read `max_tokens`
    openai_supports_strict_tool_definition=False,
    openai_chat_supports_multiple_system_messages=True,
)


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
    """`POST {base_url}/v1/chat/completions`; a JSON ask carries the server's own `response_format`."""

    def __init__(self, name: str, model: str, *, base_url: str, api_key: str | None, timeout_s: float,
                 is_cloud: bool, no_training: bool) -> None:
        client = AsyncOpenAI(base_url=base_url.rstrip("/").removesuffix("/v1") + "/v1",
                             api_key=api_key or "not-needed", max_retries=0, timeout=timeout_s)
        profile = None if name in ("openai", "azure") else SELF_HOSTED_PROFILE
        transport = OpenAIChatModel(model, provider=_SdkOpenAI(openai_client=client), profile=profile)
        super().__init__(name, model, transport, is_cloud=is_cloud, no_training=no_training, close=client.close)
        self.embeddings = OpenAIEmbeddingModel(model, provider=_SdkOpenAI(openai_client=client))

    @property
    def json_actions(self) -> bool:  # type: ignore[override]
        return self.name in JSON_ACTION_SERVERS

    def json_settings(self, settings: ModelSettings, schema: dict[str, Any]) -> ModelSettings:
        settings["extra_body"] = {"response_format": response_format(schema, self.name)}
        return settings

    def settings_for(self, request: ChatRequest) -> ModelSettings:
        settings = super().settings_for(request)
        if request.response_format == "json":
            settings["extra_body"] = {"response_format": response_format(request.json_schema, self.name)}
        return settings


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """Azure OpenAI: the model is a deployment; the SDK puts it and the API version in the URL and the key in
    the `api-key` header."""

    def __init__(self, deployment: str, *, endpoint: str, api_key: str, api_version: str, timeout_s: float) -> None:
        client = AsyncAzureOpenAI(azure_endpoint=endpoint, api_key=api_key, api_version=api_version,
                                  max_retries=0, timeout=timeout_s)
        transport = OpenAIChatModel(deployment, provider=_SdkOpenAI(openai_client=client))
        Provider.__init__(self, "azure", deployment, transport, is_cloud=True, no_training=True, close=client.close)
        self.embeddings = OpenAIEmbeddingModel(deployment, provider=_SdkOpenAI(openai_client=client))
