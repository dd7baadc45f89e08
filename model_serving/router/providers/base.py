"""The provider contract: one model at one provider, reached through pydantic-ai's model for it.

pydantic-ai's models speak each vendor's wire format through the vendor's official SDK (`openai`, `anthropic`),
tool calls included, so the router no longer carries wire code of its own. What stays ours is around the
call: the router admits, redacts, caches and costs it, and this class maps the SDKs' failures onto the two
errors the router's fallback chain understands.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_ai.direct import model_request
from pydantic_ai.embeddings import EmbeddingModel
from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings

from model_serving.router.errors import ConfigurationError, ProviderRejected, ProviderUnavailable, RouterError
from model_serving.router.messages import to_model_messages
from model_serving.router.models import ChatRequest
from model_serving.router.providers import json_actions, runner


class ProviderConfig(BaseModel):
    """Where a provider lives and how to authenticate; anything left None is read from the environment."""

    base_url: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class Completion:
    content: str
    tokens_in: int
    tokens_out: int


class Provider:
    """One model at one provider. `is_cloud` decides redaction and the data boundary.

    `transport` is the pydantic-ai model that makes the call; `close` releases its SDK client. A provider is
    used by one router and shares the process's transport loop (providers/runner.py)."""

    def __init__(self, name: str, model: str, transport: Model, *, is_cloud: bool, no_training: bool,
                 close: Callable[[], Any] | None = None) -> None:
        self.name = name
        self.model = model
        self.transport = transport
        self.is_cloud = is_cloud
        self.no_training = no_training
        """True when the provider's terms exclude training on API inputs (or it is self-hosted)."""
        self._close = close

    json_actions = False
    """True for servers whose tool calling depends on the model's template: tools become JSON actions."""
    embeddings: EmbeddingModel | None = None
    """The provider's embeddings API, where it has one (OpenAI, Azure OpenAI, OpenAI-compatible servers)."""

    def json_settings(self, settings: ModelSettings, schema: dict[str, Any]) -> ModelSettings:
        """Settings that constrain the answer to `schema`, for the JSON-action fallback; a provider that sets
        `json_actions` overrides it, and any other says plainly that it has none."""
        raise NotImplementedError(f"{self.spec} has no JSON mode for tool calls")

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.model}"

    def respond(self, messages: list[ModelMessage], settings: ModelSettings | None,
                params: ModelRequestParameters) -> ModelResponse:
        """Send the messages as they are (already redacted where needed); map failures: timeouts, refused
        connections, 429, 5xx and unreadable answers are retryable (ProviderUnavailable), other 4xx are not."""
        actions = self.json_actions and json_actions.wants_actions(params)
        if actions:
            original = params
            messages, params, schema = json_actions.rewrite(messages, params)
            settings = self.json_settings(ModelSettings(**(settings or {})), schema)
        with self._mapped_errors():
            response = runner.run(model_request(self.transport, messages, model_settings=settings,
                                                model_request_parameters=params, instrument=False))
            return json_actions.as_tool_call(response, original) if actions else response

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Embed `texts` as documents: their vectors, in order, and the input tokens the provider billed."""
        if self.embeddings is None:
            raise ConfigurationError(f"{self.spec}: {self.name} serves no embeddings API here; name an OpenAI, "
                                     "Azure OpenAI or OpenAI-compatible embedding model")
        with self._mapped_errors():
            result = runner.run(self.embeddings.embed(texts, input_type="document"))
        if len(result.embeddings) != len(texts):
            raise ProviderUnavailable(self.spec, f"{len(result.embeddings)} vectors for {len(texts)} inputs")
        return [[float(x) for x in vector] for vector in result.embeddings], result.usage.input_tokens

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        """The SDKs' failures as the two errors the router's chain understands."""
        try:
            yield
        except RouterError:
            raise
        except ModelHTTPError as exc:
            status, message = exc.status_code, _provider_message(exc)
            if status == 429 or status >= 500:
                raise ProviderUnavailable(self.spec, f"HTTP {status}: {message}", retry_after=exc.retry_after) from exc
            raise ProviderRejected(self.spec, status, message) from exc
        except ModelAPIError as exc:
            cause = exc.__cause__ or exc
            raise ProviderUnavailable(self.spec, f"{type(cause).__name__}: {cause}", retry_after=exc.retry_after) \
                from exc
        except Exception as exc:  # the SDK or pydantic-ai could not read the answer: another model might
            raise ProviderUnavailable(self.spec, f"unreadable response ({type(exc).__name__}: {str(exc)[:200]})") \
                from exc

    def prepare(self, request: ChatRequest) -> tuple[list[ModelMessage], ModelSettings]:
        """A chat request in this provider's spelling: its messages, and settings with its JSON mode."""
        return to_model_messages(request.messages), self.settings_for(request)

    def complete(self, request: ChatRequest) -> Completion:
        """A plain chat request sent without the router (tests, probes): its text answer and usage."""
        response = self.respond(*self.prepare(request), ModelRequestParameters())
        return Completion(content=response.text or "", tokens_in=response.usage.input_tokens,
                          tokens_out=response.usage.output_tokens)

    def settings_for(self, request: ChatRequest) -> ModelSettings:
        return ModelSettings(max_tokens=request.max_tokens, temperature=request.temperature)

    def close(self) -> None:
        if self._close is not None:
            runner.run(self._close())


def _provider_message(exc: ModelHTTPError) -> str:
    """The provider's own words: OpenAI, Azure and Anthropic all nest them under error.message."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        return json.dumps(body)[:500]
    return str(body)[:500] if body else str(exc)
