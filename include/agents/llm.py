"""The agents' one way to a language model: the model router, configured from the environment.

`TICKETPILOT_LLM_MODEL` names the model ("provider:model") and `TICKETPILOT_LLM_BASE_URL` the OpenAI-compatible
server that serves it (the launcher sets both for the embedded local model). Without a model, agents make no
call and behave deterministically. Every call goes through `ModelRouter`, so it is admitted against the
tenant's budgets and lands in the tenant's cost ledger with its ticket, step and prompt version.

What a model answers is never trusted: it is asked for JSON, validated with pydantic (and, where the caller
can, against the world: do the proposed edits apply?), given one chance to fix a validation error, and
otherwise dropped (None, with the reason logged), so the agent keeps its deterministic text. A step with no
deterministic text (Dev's model-made change) uses `ask_json`, which raises instead. A budget refusal always
raises: it fails the step for good with the costed reason. Ticket and repository text enters the prompt only
through `wrap_untrusted`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from include.agents.errors import BudgetRefusedError, InvalidAnswerError, ModelUnavailableError
from include.contracts import AgentTask
from include.settings import get_settings
from include.store.db import connect
from include.store.routing import get_policy
from model_serving.router import (
    BudgetExceeded,
    CallContext,
    ChatMessage,
    ChatRequest,
    ModelRouter,
    ProviderConfig,
    RouterError,
    RoutingPolicy,
)
from model_serving.router.connections import API_KEY_ENV, API_VERSION_ENV, BASE_URL_ENV, MODEL_ENV
from model_serving.router.injection import UNTRUSTED_DATA_NOTICE, wrap_untrusted
from model_serving.router.models import MODEL_SPEC_PATTERN
from model_serving.router.providers import split_spec
from model_serving.router.windows import context_window

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).with_name("prompts")
MAX_UNTRUSTED_CHARS = 3000
"""The local model's budget for all untrusted blocks of one call (what `untrusted_chars` gives its 2k-token
context); the evals' goldens are written to it."""
CHARS_PER_TOKEN = 3
"""Code and prose run 3 to 4 characters a token; 3 keeps a budget inside the window."""
MIN_UNTRUSTED_CHARS = 1000
_FRAMING_TOKENS = 150  # role markers, block labels, the untrusted-data notice's wrapping
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
    """The configured model (with how to reach it) and the tenant's routing policy, if it has one.

    `model` comes from the environment, which the agent's step fills from the tenant's model connection
    (`llm_<tenant>` / `llm_default`, see model_serving/router/connections.py) and the launcher fills for the
    embedded model; its base URL and key apply to that model's provider. `policy` is the tenant's stored
    RoutingPolicy (include/store/routing.py): default and large model, fallbacks, canary, data boundary. Without
    a policy the configured model serves alone (default and large, no fallback)."""

    model_config = ConfigDict(frozen=True)

    model: str | None = Field(default=None, pattern=MODEL_SPEC_PATTERN)
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_version: str | None = None
    policy: RoutingPolicy | None = None

    @model_validator(mode="after")
    def _something_to_call(self) -> LlmConfig:
        if self.model is None and self.policy is None:
            raise ValueError("an LlmConfig needs a model or a routing policy")
        return self

    @property
    def spec(self) -> str:
        """The model a call starts with: the policy's default, else the configured model."""
        return self.policy.default_model if self.policy else str(self.model)

    @property
    def context_tokens(self) -> int:
        """The smallest context window along the model chain (model_serving/router/windows.py): a call that
        falls back must still fit."""
        chain = [self.policy.default_model, self.policy.large_model, *self.policy.fallbacks] if self.policy \
            else [str(self.model)]
        return min(context_window(spec) for spec in chain)

    @property
    def escalates(self) -> bool:
        """Whether an escalated call reaches another model: only a policy with a distinct large model."""
        return self.policy is not None and self.policy.large_model != self.policy.default_model

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlmConfig | None:
        """None when no model is configured; a base URL without a model is named in the log, not guessed at."""
        env = os.environ if env is None else env
        model, base_url = env.get(MODEL_ENV, "").strip(), env.get(BASE_URL_ENV, "").strip() or None
        api_key, api_version = env.get(API_KEY_ENV, "").strip() or None, env.get(API_VERSION_ENV, "").strip() or None
        if not model:
            if base_url:
                log.warning("%s is set but %s is not: set it to the served model as 'provider:model' (e.g. "
                            "'llamacpp:smollm2-135m-instruct' or 'vllm:Qwen/Qwen2.5-7B-Instruct'); continuing "
                            "without a model", BASE_URL_ENV, MODEL_ENV)
            return None
        return cls(model=model, base_url=base_url, api_key=api_key, api_version=api_version)

    @classmethod
    def for_tenant(cls, tenant: str, env: Mapping[str, str] | None = None) -> LlmConfig | None:
        """The environment's model plus the tenant's stored routing policy; None when there is neither."""
        base = cls.from_env(env)
        policy = _stored_policy(tenant)
        if policy is None:
            return base
        if base is None:
            return cls(policy=policy)
        return base.model_copy(update={"policy": policy})

    def router(self) -> ModelRouter:
        """A router for this configuration; the configured model's connection settings go to its provider."""
        configs = {}
        if self.model is not None:
            given = ProviderConfig(base_url=self.base_url, api_key=self.api_key, api_version=self.api_version)
            if given != ProviderConfig():
                configs[split_spec(self.model)[0]] = given
        policy = self.policy or RoutingPolicy(default_model=str(self.model), large_model=str(self.model))
        return ModelRouter({}, default_policy=policy, provider_configs=configs, pool_size=1)


def _stored_policy(tenant: str) -> RoutingPolicy | None:
    db_url = get_settings().db_url
    if not db_url:  # no platform database: nothing can be stored, and the router could not ledger a call
        return None
    with connect(db_url, autocommit=True) as conn:
        return get_policy(conn, tenant)


@dataclass(frozen=True)
class Answer(Generic[SchemaT]):
    value: SchemaT
    model: str
    """The "provider:model" that answered, for the result's summary."""


class AnswerRejected(ValueError):
    """Raised by a `check` on an answer that matches the schema but cannot be used (an edit whose search text
    is not in the file); the model sees the message and gets its one retry, as for a schema error."""


def untrusted_chars(window_tokens: int, answer_tokens: int, instructions_chars: int) -> int:
    """What a call's untrusted blocks may fill together: the model's window less its answer, the instructions
    and the framing, at most half the window (the rest of a large window buys cost, not understanding)."""
    left = window_tokens - answer_tokens - instructions_chars // CHARS_PER_TOKEN - _FRAMING_TOKENS
    return max(MIN_UNTRUSTED_CHARS, min(left, window_tokens // 2) * CHARS_PER_TOKEN)


def complete_json(task: AgentTask, step: str, prompt: Prompt, untrusted: Mapping[str, str],
                  schema: type[SchemaT], *, max_tokens: int = 400,
                  max_untrusted_chars: int | None = None) -> Answer[SchemaT] | None:
    """Ask the configured model for a JSON object of `schema` about the labelled untrusted texts, for a step
    that has deterministic text to fall back on.

    Returns None when no model is configured, the router fails, or the answer still does not validate after
    one retry that shows the model its validation error and, where the tenant's policy has a larger model,
    one escalated call to it. A budget refusal is not swallowed: it raises
    BudgetRefusedError, which fails the step without a retry, because the deterministic text would hide that
    the tenant's money ran out.
    """
    ticket = task.ticket
    config = LlmConfig.for_tenant(ticket.tenant)
    if config is None:
        return None
    ask = functools.partial(ask_json, config, task, step, prompt, untrusted, schema, max_tokens=max_tokens,
                            max_untrusted_chars=max_untrusted_chars)
    try:
        try:
            return ask()
        except InvalidAnswerError as exc:
            if not config.escalates:
                raise
            log.info("%s %s: %s answered with invalid JSON twice (%s); escalating once", ticket.ticket_key, step,
                     exc.model, exc.error)
            return ask(escalate=True, retries=0)
    except ModelUnavailableError as exc:
        log.warning("%s %s: no model answer (%s: %s); keeping the deterministic text", ticket.ticket_key, step,
                    type(exc.cause).__name__, exc.cause)
    except InvalidAnswerError as exc:
        log.warning("%s %s: %s answered with invalid JSON twice (%s); keeping the deterministic text",
                    ticket.ticket_key, step, exc.model, exc.error)
    return None


def ask_json(config: LlmConfig, task: AgentTask, step: str, prompt: Prompt, untrusted: Mapping[str, str],
             schema: type[SchemaT], *, max_tokens: int = 400, max_untrusted_chars: int | None = None,
             check: Callable[[SchemaT], object] | None = None, failed_fix_iterations: int = 0,
             escalate: bool = False, retries: int = 1) -> Answer[SchemaT]:
    """`complete_json` for a step that has no deterministic fallback: every failure raises.

    `check` judges an answer that matches the schema against the world (raise AnswerRejected); its rejection
    counts like a schema error. `failed_fix_iterations` goes to the router, whose policy escalates to the large
    model from some count on; `escalate=True` passes at least that count, so this call gets the large model.
    `max_untrusted_chars` is what all untrusted blocks may fill together; by default what the model's context
    window leaves after the instructions and the answer (`untrusted_chars`). `retries` is how many more chances
    an invalid answer gets, each shown its error.

    Raises BudgetRefusedError (a budget would be exceeded), ModelUnavailableError (any other router error) or
    InvalidAnswerError (no valid answer after the retries).
    """
    ticket = task.ticket
    instructions = f"{prompt.text}\n\n{UNTRUSTED_DATA_NOTICE}"
    if max_untrusted_chars is None:
        max_untrusted_chars = untrusted_chars(config.context_tokens, max_tokens, len(instructions))
    messages = [ChatMessage(role="system", content=instructions),
                ChatMessage(role="user", content=_quoted(untrusted, max_untrusted_chars))]
    try:
        with config.router() as router:
            if escalate:
                threshold = router.policy_for(ticket.tenant).escalate_on.failed_fix_iterations
                failed_fix_iterations = max(failed_fix_iterations, threshold)
            context = CallContext(tenant=ticket.tenant, repo=ticket.repo, ticket_key=ticket.ticket_key, step=step,
                                  prompt_version=prompt.ref, risk_class=ticket.risk_class,
                                  failed_fix_iterations=failed_fix_iterations)
            for attempt in range(1, retries + 2):
                request = ChatRequest(messages=messages, max_tokens=max_tokens, response_format="json",
                                      json_schema=answer_schema(schema))
                response = router.chat(request, context)
                try:
                    value = schema.model_validate_json(response.content)
                    if check is not None:
                        check(value)
                    return Answer(value=value, model=response.spec)
                except ValidationError as exc:
                    error = _short(exc)
                except AnswerRejected as exc:
                    error = str(exc)
                log.info("%s %s: answer %d of %s did not validate: %s", ticket.ticket_key, step, attempt,
                         response.spec, error)
                messages = [*messages, ChatMessage(role="assistant", content=response.content),
                            ChatMessage(role="user", content=_RETRY.format(error=error))]
    except BudgetExceeded as exc:
        raise BudgetRefusedError(ticket.ticket_key, step, exc) from exc
    except RouterError as exc:
        raise ModelUnavailableError(ticket.ticket_key, step, config.spec, exc) from exc
    raise InvalidAnswerError(ticket.ticket_key, step, response.spec, response.content, error)


GRAMMAR_MAX_LENGTH = 300
"""Longest string bound passed on: a grammar unrolls `maxLength` into that many nested rules, and llama.cpp's
server slows to a halt (or drops the connection) on bounds in the thousands."""


def answer_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema a server may constrain decoding to: pydantic's, which states lengths and item counts, so
    a grammar-constrained small model cannot stop short of or run past them. Regex `pattern`s are left out
    (schema-to-grammar converters let a pattern replace the length bounds, and structured-output APIs support
    few regex features), and so are string bounds above GRAMMAR_MAX_LENGTH. The answer is validated against the
    full model all the same."""
    return _for_grammar(schema.model_json_schema())


def _for_grammar(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _for_grammar(v) for k, v in node.items()
                if k != "pattern" and not (k == "maxLength" and isinstance(v, int) and v > GRAMMAR_MAX_LENGTH)}
    if isinstance(node, list):
        return [_for_grammar(v) for v in node]
    return node


def _quoted(untrusted: Mapping[str, str], budget: int = MAX_UNTRUSTED_CHARS) -> str:
    """Each text as a labelled untrusted block; together they fill at most `budget` characters. A text shorter
    than its equal share is kept whole and leaves the rest to the longer ones, which are cut to what is left."""
    shares = _shares([len(text) for text in untrusted.values()], budget)
    return "\n\n".join(wrap_untrusted(text if len(text) <= share else text[:share] + " [truncated]", label)
                       for (label, text), share in zip(untrusted.items(), shares, strict=True))


def _shares(lengths: list[int], budget: int) -> list[int]:
    shares = [0] * len(lengths)
    pending = sorted(range(len(lengths)), key=lambda i: lengths[i])
    while pending:
        share = budget // len(pending)
        if lengths[pending[0]] > share:
            for i in pending:
                shares[i] = share
            break
        shortest = pending.pop(0)
        shares[shortest] = lengths[shortest]
        budget -= lengths[shortest]
    return shares


def _short(exc: ValidationError) -> str:
    """Pydantic's errors without its documentation links, short enough for a small model's context."""
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}" for err in exc.errors()[:5]]
    return "; ".join(parts)[:500]
