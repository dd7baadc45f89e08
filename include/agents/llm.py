"""The agents' one way to a language model: the model router, configured from the environment.

`TICKETPILOT_LLM_MODEL` names the model ("provider:model") and `TICKETPILOT_LLM_BASE_URL` the OpenAI-compatible
server that serves it (the launcher sets both for the embedded local model). Without a model, agents make no
call and behave deterministically. Every call goes through `ModelRouter`, so it is admitted against the
tenant's budgets and lands in the tenant's cost ledger with its ticket, step and prompt version.

What a model answers is never trusted: it is asked for JSON, validated with pydantic, given one chance to fix
a validation error, and otherwise dropped (None, with the reason logged), so the agent keeps its deterministic
text. Ticket and repository text enters the prompt only through `wrap_untrusted`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from include.contracts import AgentTask
from model_serving.router import (
    CallContext,
    ChatMessage,
    ChatRequest,
    ModelRouter,
    ProviderConfig,
    RouterError,
    RoutingPolicy,
)
from model_serving.router.injection import UNTRUSTED_DATA_NOTICE, wrap_untrusted
from model_serving.router.models import MODEL_SPEC_PATTERN
from model_serving.router.providers import split_spec

log = logging.getLogger(__name__)

MODEL_ENV = "TICKETPILOT_LLM_MODEL"
BASE_URL_ENV = "TICKETPILOT_LLM_BASE_URL"
PROMPTS_DIR = Path(__file__).with_name("prompts")
MAX_UNTRUSTED_CHARS = 3000
"""All untrusted blocks of one call together: keeps prompt and answer inside the local model's 2k-token context."""
_RETRY = ("Your answer did not validate: {error}\nAnswer again with one JSON object of the shape the instructions "
          "give, and nothing else.")

SchemaT = TypeVar("SchemaT", bound=BaseModel)


@dataclass(frozen=True)
class Prompt:
    """A versioned prompt file; `ref` is what the ledger records as the call's prompt version."""

    name: str
    version: str
    text: str

    @property
    def ref(self) -> str:
        return f"{self.name}.v{self.version}"


def load_prompt(name: str, version: str) -> Prompt:
    path = PROMPTS_DIR / f"{name}.v{version}.md"
    return Prompt(name=name, version=version, text=path.read_text(encoding="utf-8").strip())


class LlmConfig(BaseModel):
    """The configured model and, for a self-hosted or compatible server, where it listens."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(pattern=MODEL_SPEC_PATTERN)
    base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlmConfig | None:
        """None when no model is configured; a base URL without a model is named in the log, not guessed at."""
        env = os.environ if env is None else env
        model, base_url = env.get(MODEL_ENV, "").strip(), env.get(BASE_URL_ENV, "").strip() or None
        if not model:
            if base_url:
                log.warning("%s is set but %s is not: set it to the served model as 'provider:model' (e.g. "
                            "'llamacpp:smollm2-135m-instruct' or 'vllm:Qwen/Qwen2.5-7B-Instruct'); continuing "
                            "without a model", BASE_URL_ENV, MODEL_ENV)
            return None
        return cls(model=model, base_url=base_url)

    def router(self) -> ModelRouter:
        """Every tenant gets the configured model as its default and large model (one model, no escalation)."""
        provider, _ = split_spec(self.model)
        configs = {provider: ProviderConfig(base_url=self.base_url)} if self.base_url else {}
        policy = RoutingPolicy(default_model=self.model, large_model=self.model)
        return ModelRouter({}, default_policy=policy, provider_configs=configs, pool_size=1)


@dataclass(frozen=True)
class Answer(Generic[SchemaT]):
    value: SchemaT
    model: str
    """The "provider:model" that answered, for the result's summary."""


def configured_model() -> str | None:
    config = LlmConfig.from_env()
    return config.model if config else None


def complete_json(task: AgentTask, step: str, prompt: Prompt, untrusted: Mapping[str, str],
                  schema: type[SchemaT], *, max_tokens: int = 400) -> Answer[SchemaT] | None:
    """Ask the configured model for a JSON object of `schema` about the labelled untrusted texts.

    Returns None when no model is configured, the router refuses or fails, or the answer still does not
    validate after one retry that shows the model its validation error.
    """
    config = LlmConfig.from_env()
    if config is None:
        return None
    ticket = task.ticket
    context = CallContext(tenant=ticket.tenant, repo=ticket.repo, ticket_key=ticket.ticket_key, step=step,
                          prompt_version=prompt.ref, risk_class=ticket.risk_class)
    messages = [ChatMessage(role="system", content=f"{prompt.text}\n\n{UNTRUSTED_DATA_NOTICE}"),
                ChatMessage(role="user", content=_quoted(untrusted))]
    try:
        with config.router() as router:
            for attempt in (1, 2):
                request = ChatRequest(messages=messages, max_tokens=max_tokens, response_format="json")
                response = router.chat(request, context)
                try:
                    return Answer(value=schema.model_validate_json(response.content), model=response.spec)
                except ValidationError as exc:
                    error = _short(exc)
                    log.info("%s %s: answer %d of %s did not validate: %s", ticket.ticket_key, step, attempt,
                             response.spec, error)
                messages = [*messages, ChatMessage(role="assistant", content=response.content),
                            ChatMessage(role="user", content=_RETRY.format(error=error))]
    except RouterError as exc:
        log.warning("%s %s: no model answer (%s: %s); keeping the deterministic text", ticket.ticket_key, step,
                    type(exc).__name__, exc)
        return None
    log.warning("%s %s: %s answered with invalid JSON twice (%s); keeping the deterministic text",
                ticket.ticket_key, step, config.model, error)
    return None


def _quoted(untrusted: Mapping[str, str]) -> str:
    """Each text as a labelled untrusted block, cut to an equal share of MAX_UNTRUSTED_CHARS."""
    share = MAX_UNTRUSTED_CHARS // max(1, len(untrusted))
    return "\n\n".join(wrap_untrusted(text if len(text) <= share else text[:share] + " [truncated]", label)
                       for label, text in untrusted.items())


def _short(exc: ValidationError) -> str:
    """Pydantic's errors without its documentation links, short enough for a small model's context."""
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}" for err in exc.errors()[:5]]
    return "; ".join(parts)[:500]
