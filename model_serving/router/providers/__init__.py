"""Resolve "provider:model" strings to providers. Credentials: the `configs` argument first (the agents fill it
from the tenant's common-ai connection, model_serving/router/connections.py), then the environment.

Each provider is a pydantic-ai model over the vendor's official SDK (providers/base.py).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from pydantic_ai.models import Model

from model_serving.router.errors import ConfigurationError
from model_serving.router.providers.anthropic import AnthropicProvider
from model_serving.router.providers.base import Completion, Provider, ProviderConfig
from model_serving.router.providers.openai_compat import AzureOpenAIProvider, OpenAICompatibleProvider
from model_serving.router.providers.replay import replay_model

__all__ = ["Completion", "Provider", "ProviderConfig", "PROVIDERS", "register_model", "resolve_provider", "split_spec",
           "unregister_model"]

DEFAULT_TIMEOUT_S = 60.0
AZURE_API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class _Kind:
    env: str  # prefix of <ENV>_BASE_URL and <ENV>_API_KEY
    default_base_url: str | None
    needs_key: bool
    self_hosted: bool


PROVIDERS: dict[str, _Kind] = {
    "openai": _Kind("OPENAI", "https://api.openai.com", needs_key=True, self_hosted=False),
    "anthropic": _Kind("ANTHROPIC", "https://api.anthropic.com", needs_key=True, self_hosted=False),
    "azure": _Kind("AZURE_OPENAI", None, needs_key=True, self_hosted=False),
    "vllm": _Kind("VLLM", "http://127.0.0.1:8000", needs_key=False, self_hosted=True),
    "tgi": _Kind("TGI", "http://127.0.0.1:8080", needs_key=False, self_hosted=True),
    "ollama": _Kind("OLLAMA", "http://127.0.0.1:11434", needs_key=False, self_hosted=True),
    "llamacpp": _Kind("LLAMACPP", "http://127.0.0.1:8080", needs_key=False, self_hosted=True),
    # Any other server that speaks the OpenAI format: cloud unless its host is loopback or private, and
    # never assumed to exclude training, since its terms are unknown.
    "openai-compatible": _Kind("OPENAI_COMPATIBLE", None, needs_key=False, self_hosted=False),
}


REPLAY = "replay"
"""`replay:<name>` answers from recorded scripts (providers/replay.py): benchmarks and end-to-end tests."""

_REGISTERED: dict[str, Provider] = {}


def register_model(spec: str, model: Model) -> None:
    """Serve a pydantic-ai model under `spec` in this process: a scripted `FunctionModel` for tests and
    benchmarks, or a model a team wires itself. Self-hosted: never redacted, free unless priced."""
    name, _, model_name = spec.partition(":")
    _REGISTERED[spec] = Provider(name, model_name, model, is_cloud=False, no_training=True)


def unregister_model(spec: str) -> None:
    _REGISTERED.pop(spec, None)


def split_spec(spec: str) -> tuple[str, str]:
    provider, sep, model = spec.partition(":")
    if not sep or not model or (provider not in PROVIDERS and provider != REPLAY):
        raise ConfigurationError(
            f"model {spec!r} must be 'provider:model' with provider one of {', '.join([*PROVIDERS, REPLAY])}, "
            "e.g. 'openai:gpt-4o-mini' or 'vllm:Qwen/Qwen2.5-7B-Instruct'"
        )
    return provider, model


def resolve_provider(spec: str, configs: Mapping[str, ProviderConfig] | None = None,
                     env: Mapping[str, str] | None = None) -> Provider:
    if spec in _REGISTERED:
        return _REGISTERED[spec]
    name, model = split_spec(spec)
    env = os.environ if env is None else env
    if name == REPLAY:
        return Provider(REPLAY, model, replay_model(model, dict(env)), is_cloud=False, no_training=True)
    kind = PROVIDERS[name]
    given = (configs or {}).get(name, ProviderConfig())
    setting = f"the {name!r} entry of provider_configs"
    base_url = given.base_url or env.get(f"{kind.env}_BASE_URL") or env.get(f"{kind.env}_ENDPOINT") \
        or kind.default_base_url
    api_key = given.api_key or env.get(f"{kind.env}_API_KEY")
    if base_url is None:
        raise ConfigurationError(f"{spec}: no endpoint: set {kind.env}_BASE_URL (or {kind.env}_ENDPOINT) "
                                 f"or base_url in {setting}")
    if kind.needs_key and not api_key:
        raise ConfigurationError(f"{spec}: no API key: set {kind.env}_API_KEY or api_key in {setting}")
    timeout = given.timeout_s or float(env.get("TICKETPILOT_LLM_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    if name == "anthropic":
        return AnthropicProvider(model, base_url=base_url, api_key=str(api_key), timeout_s=timeout)
    if name == "azure":
        version = given.api_version or env.get("AZURE_OPENAI_API_VERSION") or env.get("OPENAI_API_VERSION") \
            or AZURE_API_VERSION
        return AzureOpenAIProvider(model, endpoint=base_url, api_key=str(api_key), api_version=version,
                                   timeout_s=timeout)
    self_hosted = kind.self_hosted or (name == "openai-compatible" and _is_private(base_url))
    return OpenAICompatibleProvider(name, model, base_url=base_url, api_key=api_key, timeout_s=timeout,
                                    is_cloud=not self_hosted, no_training=self_hosted or name == "openai")


def _is_private(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private
