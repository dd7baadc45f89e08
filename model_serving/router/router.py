"""The model router: one `chat` call does policy, data boundary, redaction, cache, admission, fallback and ledger.

Synchronous on purpose: agents are plain processes, and the HTTP service runs `chat` in its worker threads.
The database connection is held only around the bookkeeping, never while a provider is thinking.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings

from include import telemetry
from include.settings import get_settings
from include.telemetry import metrics
from model_serving.router import cache, canary, ledger
from model_serving.router.errors import (
    AllProvidersFailed,
    ConfigurationError,
    DataBoundaryViolation,
    ProviderRejected,
    ProviderUnavailable,
)
from model_serving.router.injection import scan_messages
from model_serving.router.ledger import FREE, CallRecord, Price
from model_serving.router.messages import cache_key as model_cache_key
from model_serving.router.messages import (
    chat_view,
    dump_response,
    load_response,
    rewrite_messages,
    rewrite_response,
)
from model_serving.router.models import (
    CallContext,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    InjectionFinding,
    RoutingPolicy,
    Usage,
)
from model_serving.router.providers import Provider, ProviderConfig, resolve_provider
from model_serving.router.redaction import Redactor

DEFAULT_MAX_TOKENS = 1024
"""What an agent's turn may answer when its settings name no bound: the admission estimate needs one."""


class ModelRouter:
    """Routes chat calls for many tenants; share one per process (it pools connections and HTTP clients)."""

    def __init__(self, policies: Mapping[str, RoutingPolicy], *, default_policy: RoutingPolicy | None = None,
                 db_url: str | None = None, provider_configs: Mapping[str, ProviderConfig] | None = None,
                 env: Mapping[str, str] | None = None, pool_size: int = 8) -> None:
        self.policies = dict(policies)
        self.default_policy = default_policy
        self._configs = dict(provider_configs or {})
        self._env = env
        self._pool = ConnectionPool(db_url or get_settings().require_db(), min_size=1, max_size=pool_size,
                                    kwargs={"autocommit": True, "row_factory": dict_row}, open=True)
        self._providers: dict[str, Provider] = {}
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> ModelRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.close()
        for provider in self._providers.values():
            provider.close()

    def policy_for(self, tenant: str) -> RoutingPolicy:
        policy = self.policies.get(tenant, self.default_policy)
        if policy is None:
            raise ConfigurationError(f"no routing policy for tenant {tenant!r}: add one to ModelRouter(policies=...) "
                                     "or pass default_policy=")
        return policy

    def provider(self, spec: str) -> Provider:
        with self._lock:
            if spec not in self._providers:
                self._providers[spec] = resolve_provider(spec, self._configs, self._env)
            return self._providers[spec]

    def chat(self, request: ChatRequest, context: CallContext) -> ChatResponse:
        """A chat request (the HTTP service's and the agents' JSON asks): its text answer."""
        routed = self.route(_ChatCall(request), context)
        return ChatResponse(content=routed.response.text or "", usage=routed.usage, provider=routed.provider,
                            model=routed.model, latency_ms=routed.latency_ms, cache_hit=routed.cache_hit,
                            cost_usd=routed.cost_usd, call_id=routed.call_id,
                            injection_findings=routed.injection_findings)

    def request(self, messages: list[ModelMessage], settings: ModelSettings | None, params: ModelRequestParameters,
                context: CallContext) -> Routed:
        """A pydantic-ai conversation (a tool-using agent's turn): the model's response, tool calls included."""
        return self.route(_ModelCall(messages, settings, params), context)

    def embed(self, texts: list[str], context: CallContext, spec: str) -> Embedded:
        """Embeddings of `texts` (documents) by the model `spec`: the tenant's data boundary, redaction before a
        cloud model, admission against its budgets and one ledger row. One model, no fallback, no cache: vectors
        of two models are never compared, and the code index embeds each chunk once anyway."""
        policy = self.policy_for(context.tenant)
        (provider,) = self._within_boundary([self.provider(spec)], context, policy)
        estimate = sum(len(t) for t in texts) // 3 + len(texts)
        with self._db(context.tenant) as conn:
            price = self._price(conn, provider)
            ledger.admit(conn, context, price.cost(estimate, 0))
        sent = [Redactor().redact(t) for t in texts] if provider.is_cloud else texts
        started = time.monotonic()
        try:
            vectors, tokens = provider.embed(sent)
        except (ProviderUnavailable, ProviderRejected) as exc:
            with self._db(context.tenant) as conn:
                ledger.record_call(conn, CallRecord(context, provider.name, provider.model, "error", error=str(exc),
                                                    latency_ms=_ms_since(started)))
            raise
        cost = price.cost(tokens, 0)
        with self._db(context.tenant) as conn:
            ledger.record_call(conn, CallRecord(context, provider.name, provider.model, "ok", tokens_in=tokens,
                                                cost_usd=cost, latency_ms=_ms_since(started)))
            ledger.record_thresholds(conn, context)
        return Embedded(vectors=vectors, tokens_in=tokens, cost_usd=cost, provider=provider.name,
                        model=provider.model)

    def route(self, call: _Call, context: CallContext) -> Routed:
        """Policy, data boundary, cache, then each model of the chain in turn: admitted, redacted, costed; one
        span per call (a child of the agent step's span), with what it cost."""
        with telemetry.span("model.call", ticket_key=context.ticket_key or None,
                            attributes={"tenant": context.tenant, "step": context.step or None}) as call_span:
            routed = self._route(call, context)
            call_span.set_attributes({"model": f"{routed.provider}:{routed.model}", "tokens.in": routed.usage.tokens_in,
                                      "tokens.out": routed.usage.tokens_out, "cost.usd": str(routed.cost_usd),
                                      "cache.hit": routed.cache_hit, "latency.ms": routed.latency_ms})
            metrics.record_model_call(tenant=context.tenant, model=f"{routed.provider}:{routed.model}",
                                      cost_usd=float(routed.cost_usd), cache_hit=routed.cache_hit)
            return routed

    def _route(self, call: _Call, context: CallContext) -> Routed:
        policy = self.policy_for(context.tenant)
        view = call.view()
        findings = scan_messages(view)
        with self._db(context.tenant) as conn:
            chain = self._chain(conn, call.pinned, view, context, policy)
            key = call.cache_key(chain[0].spec)
            call_id = context.call_id or _derived_call_id(context, key)
            cached = cache.lookup(conn, context.tenant, key, chain[0].spec) if policy.cache else None
            if cached is not None:
                return self._cache_hit(conn, call, cached, context, call_id, findings)
        failures: list[ProviderUnavailable] = []
        for provider in chain:
            try:
                return self._attempt(provider, call, view, context, policy, key, call_id, findings)
            except ProviderUnavailable as exc:
                failures.append(exc)
        raise AllProvidersFailed(failures)

    def _attempt(self, provider: Provider, call: _Call, view: list[ChatMessage], ctx: CallContext,
                 policy: RoutingPolicy, key: str, call_id: str, findings: list[InjectionFinding]) -> Routed:
        """One model of the chain: admit, call, record. ProviderUnavailable means: try the next one."""
        with self._db(ctx.tenant) as conn:
            price = self._price(conn, provider)
            ledger.admit(conn, ctx, price.cost(ledger.estimate_tokens(view), call.max_tokens))
        redactor = Redactor() if provider.is_cloud else None
        messages, settings, params = call.for_provider(provider)
        if redactor is not None:
            messages = rewrite_messages(messages, redactor.redact)
        started = time.monotonic()
        try:
            response = provider.respond(messages, settings, params)
        except (ProviderUnavailable, ProviderRejected) as exc:
            with self._db(ctx.tenant) as conn:
                ledger.record_call(conn, CallRecord(ctx, provider.name, provider.model, "error", error=str(exc),
                                                    latency_ms=_ms_since(started)))
                self._judge_canary(conn, ctx.tenant, policy, provider)
            raise
        latency_ms = _ms_since(started)
        if redactor is not None:
            response = rewrite_response(response, redactor.restore)
        usage = Usage(tokens_in=response.usage.input_tokens, tokens_out=response.usage.output_tokens)
        cost = price.cost(usage.tokens_in, usage.tokens_out)
        with self._db(ctx.tenant) as conn:
            ledger.record_call(conn, CallRecord(
                ctx, provider.name, provider.model, "ok", idempotency_key=call_id, tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out, cost_usd=cost, latency_ms=latency_ms,
                injection_findings=tuple(f.model_dump() for f in findings)))
            ledger.record_thresholds(conn, ctx)
            self._judge_canary(conn, ctx.tenant, policy, provider)
            if policy.cache:
                cache.store(conn, ctx.tenant, key, provider.spec, call.cached_form(response), provider.name,
                            provider.model, usage)
        return Routed(response=response, usage=usage, provider=provider.name, model=provider.model,
                      latency_ms=latency_ms, cache_hit=False, cost_usd=cost, call_id=call_id,
                      injection_findings=findings)

    def _cache_hit(self, conn: psycopg.Connection, call: _Call, cached: dict, ctx: CallContext, call_id: str,
                   findings: list[InjectionFinding]) -> Routed:
        """A cached answer costs nothing and consumed no tokens; the ledger still shows the call was made."""
        ledger.record_call(conn, CallRecord(ctx, cached["provider"], cached["model"], "ok", idempotency_key=call_id,
                                            cache_hit=True,
                                            injection_findings=tuple(f.model_dump() for f in findings)))
        return Routed(response=call.from_cache(cached["content"]), usage=Usage(tokens_in=0, tokens_out=0),
                      provider=cached["provider"], model=cached["model"], latency_ms=0, cache_hit=True,
                      cost_usd=Decimal(0), call_id=call_id, injection_findings=findings)

    def _chain(self, conn: psycopg.Connection, pinned: str | None, view: list[ChatMessage], ctx: CallContext,
               policy: RoutingPolicy) -> list[Provider]:
        """Primary model (pinned, large, canary or default), then the fallbacks, minus what the boundary forbids."""
        primary = self._primary(conn, pinned, view, ctx, policy)
        specs = [primary]
        if policy.canary and primary == policy.canary.model:
            specs.append(policy.default_model)
        specs.extend(policy.fallbacks)
        return self._within_boundary([self.provider(s) for s in dict.fromkeys(specs)], ctx, policy)

    def _within_boundary(self, providers: list[Provider], ctx: CallContext, policy: RoutingPolicy) -> list[Provider]:
        boundary = policy.data_boundary
        allowed = [p for p in providers if boundary == "any"
                   or (boundary == "self_hosted_only" and not p.is_cloud)
                   or (boundary == "no_training" and p.no_training)]
        if not allowed:
            need = "a self-hosted model (vllm:, tgi:, ollama: or llamacpp:)" if boundary == "self_hosted_only" \
                else "a model whose provider does not train on API inputs"
            raise DataBoundaryViolation(
                f"tenant {ctx.tenant!r} has data boundary {boundary!r}, and none of {[p.spec for p in providers]} "
                f"qualifies; add {need} to its routing policy's default_model or fallbacks")
        return allowed

    def _primary(self, conn: psycopg.Connection, pinned: str | None, view: list[ChatMessage], ctx: CallContext,
                 policy: RoutingPolicy) -> str:
        rules = policy.escalate_on
        if pinned:
            return pinned
        if (ctx.risk_class in rules.risk_classes or ctx.failed_fix_iterations >= rules.failed_fix_iterations
                or ledger.estimate_tokens(view) > rules.context_tokens_over):
            return policy.large_model
        if (policy.canary and ctx.ticket_key and canary.in_canary(ctx.ticket_key, policy.canary.share)
                and not canary.is_disabled(conn, ctx.tenant, policy.canary.model)):
            return policy.canary.model
        return policy.default_model

    def _price(self, conn: psycopg.Connection, provider: Provider) -> Price:
        """Self-hosted models cost nothing per token unless priced (to charge GPU time back); cloud ones must be."""
        price = ledger.price_at(conn, provider.spec)
        if price is not None:
            return price
        if not provider.is_cloud:
            return FREE
        raise ConfigurationError(
            f"no price for {provider.spec}: budgets cannot be enforced without one; add it with "
            f"model_serving.router.ledger.set_price(conn, {provider.spec!r}, input_usd_per_mtok=..., "
            "output_usd_per_mtok=...)")

    def _judge_canary(self, conn: psycopg.Connection, tenant: str, policy: RoutingPolicy, provider: Provider) -> None:
        if policy.canary and provider.spec == policy.canary.model:
            canary.evaluate(conn, tenant, policy.canary)

    def connection(self) -> AbstractContextManager[psycopg.Connection]:
        """A pooled platform-database connection (autocommit, dict rows), e.g. for the HTTP face's credentials."""
        return self._pool.connection()

    @contextmanager
    def _db(self, tenant: str) -> Iterator[psycopg.Connection]:
        with self._pool.connection() as conn:
            if tenant not in self._ready:
                ledger.ensure_tenant_schema(conn, tenant)
                self._ready.add(tenant)
            yield conn


def _derived_call_id(ctx: CallContext, key: str) -> str:
    """Same ticket, step, prompt version and request: the same call, so a retried step adds no ledger row.
    Without a ticket and step there is nothing to tie a repeat to, so every call is its own."""
    if not (ctx.ticket_key and ctx.step):
        return uuid.uuid4().hex
    parts = [ctx.tenant, ctx.ticket_key, ctx.step, ctx.prompt_version, key]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class Embedded:
    vectors: list[list[float]]
    tokens_in: int
    cost_usd: Decimal
    provider: str
    model: str


@dataclass(frozen=True)
class Routed:
    """What a routed call returns: the model's response (restored) and its bookkeeping."""

    response: ModelResponse
    usage: Usage
    provider: str
    model: str
    latency_ms: int
    cache_hit: bool
    cost_usd: Decimal
    call_id: str
    injection_findings: list[InjectionFinding]

    @property
    def spec(self) -> str:
        return f"{self.provider}:{self.model}"


class _Call(Protocol):
    """One routed call in either shape; each provider of the chain gets it in its own spelling."""

    pinned: str | None
    max_tokens: int

    def view(self) -> list[ChatMessage]: ...
    def cache_key(self, spec: str) -> str: ...
    def for_provider(self, provider: Provider) -> tuple[list[ModelMessage], ModelSettings, ModelRequestParameters]: ...
    def cached_form(self, response: ModelResponse) -> str: ...
    def from_cache(self, content: str) -> ModelResponse: ...


class _ChatCall:
    """A ChatRequest: cached as its text, so the cache's rows stay readable answers."""

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.pinned = request.model
        self.max_tokens = request.max_tokens

    def view(self) -> list[ChatMessage]:
        return list(self.request.messages)

    def cache_key(self, spec: str) -> str:
        return cache.cache_key(spec, self.request)

    def for_provider(self, provider: Provider) -> tuple[list[ModelMessage], ModelSettings, ModelRequestParameters]:
        messages, settings = provider.prepare(self.request)
        return messages, settings, ModelRequestParameters()

    def cached_form(self, response: ModelResponse) -> str:
        return response.text or ""

    def from_cache(self, content: str) -> ModelResponse:
        return ModelResponse(parts=[TextPart(content=content)])


class _ModelCall:
    """A pydantic-ai conversation with its tools: cached as pydantic-ai's JSON of the response."""

    def __init__(self, messages: list[ModelMessage], settings: ModelSettings | None,
                 params: ModelRequestParameters) -> None:
        self.messages, self.settings, self.params = messages, ModelSettings(**(settings or {})), params
        self.pinned = None
        self.max_tokens = int(self.settings.get("max_tokens") or DEFAULT_MAX_TOKENS)

    def view(self) -> list[ChatMessage]:
        return chat_view(self.messages)

    def cache_key(self, spec: str) -> str:
        return model_cache_key(spec, self.messages, self.params, dict(self.settings))

    def for_provider(self, provider: Provider) -> tuple[list[ModelMessage], ModelSettings, ModelRequestParameters]:
        return self.messages, self.settings, self.params

    def cached_form(self, response: ModelResponse) -> str:
        return dump_response(response)

    def from_cache(self, content: str) -> ModelResponse:
        return load_response(content)
