"""An OpenAI-compatible HTTP face for the router, for tools that only speak that format.

Every request is authenticated (`Authorization: Bearer`: a router token or the platform's JWT, auth.py), and the
tenant is the credential's: an `X-Ticketpilot-Tenant` header may repeat it, never change it (403). What the call
is for travels in headers (`X-Ticketpilot-Repo`, `-Ticket`, `-Step`, `-Prompt-Version`, `-Risk-Class`,
`-Failed-Fix-Iterations`, and `Idempotency-Key`), so any OpenAI client can send them unchanged (its API key is
the bearer). `model` is "auto" (the tenant's policy decides) or a "provider:model" string.

`stream: true` frames the finished answer as SSE chunks: the router must see the whole answer to restore
redacted values, fill the cache and write the ledger, so it does not relay upstream tokens as they come.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from include.contracts.risk import RiskClass
from model_serving.router.auth import Authenticate, Caller, Unauthenticated, authenticator
from model_serving.router.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    ConfigurationError,
    DataBoundaryViolation,
    ProviderRejected,
    RouterError,
)
from model_serving.router.models import CallContext, ChatMessage, ChatRequest, ChatResponse
from model_serving.router.router import ModelRouter

_STATUS: list[tuple[type[RouterError], int, str]] = [
    (BudgetExceeded, 402, "budget_exceeded"),
    (DataBoundaryViolation, 403, "data_boundary"),
    (ProviderRejected, 400, "provider_rejected"),
    (AllProvidersFailed, 503, "providers_unavailable"),
    (ConfigurationError, 500, "configuration_error"),
]
_STREAM_CHUNK_CHARS = 32


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = "answer"
    schema_: dict[str, Any] = Field(alias="schema")


class ResponseFormat(BaseModel):
    """OpenAI's `response_format`: plain text, JSON mode, or structured outputs with a JSON Schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaFormat | None = None


class CompletionBody(BaseModel):
    """The OpenAI request fields the router honours; others (tools, n, logprobs) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = "auto"
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    response_format: ResponseFormat | None = None
    stream: bool = False

    def to_request(self) -> ChatRequest:
        fields: dict[str, Any] = {"messages": self.messages, "model": None if self.model == "auto" else self.model}
        if (max_tokens := self.max_completion_tokens or self.max_tokens) is not None:
            fields["max_tokens"] = max_tokens
        if self.temperature is not None:
            fields["temperature"] = self.temperature
        if self.response_format and self.response_format.type != "text":
            fields["response_format"] = "json"
            if self.response_format.json_schema is not None:
                fields["json_schema"] = self.response_format.json_schema.schema_
        return ChatRequest(**fields)


def build_app(router: ModelRouter, authenticate: Authenticate | None = None) -> FastAPI:
    """The app; `authenticate` defaults to router tokens in the router's database, plus the platform's JWT where
    TICKETPILOT_ROUTER_JWT_SECRET is set. There is no unauthenticated mode."""
    app = FastAPI(title="Ticketpilot model router", description="OpenAI-compatible chat completions")
    check = authenticate or authenticator(router.connection)

    def caller(authorization: Annotated[str, Header()] = "",
               x_ticketpilot_tenant: Annotated[str | None, Header()] = None) -> Caller:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise HTTPException(401, "a bearer credential is required: a router token (ticketpilot router "
                                     "issue-token TENANT) or the platform's JWT", {"WWW-Authenticate": "Bearer"})
        try:
            found = check(credential.strip())
        except Unauthenticated as exc:
            raise HTTPException(401, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        if x_ticketpilot_tenant is not None and x_ticketpilot_tenant != found.tenant:
            raise HTTPException(403, f"the credential belongs to tenant {found.tenant!r}; X-Ticketpilot-Tenant names "
                                     f"{x_ticketpilot_tenant!r}")
        return found

    @app.exception_handler(RouterError)
    def _router_error(_: Request, exc: RouterError) -> JSONResponse:
        status, kind = next(((s, k) for cls, s, k in _STATUS if isinstance(exc, cls)), (500, "router_error"))
        headers = {}
        if isinstance(exc, AllProvidersFailed) and exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return JSONResponse({"error": {"message": str(exc), "type": kind, "code": kind}}, status, headers=headers)

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(
        body: CompletionBody,
        who: Caller = Depends(caller),  # noqa: B008 (FastAPI's idiom; Annotated cannot name a local function)
        x_ticketpilot_repo: Annotated[str, Header()] = "",
        x_ticketpilot_ticket: Annotated[str, Header()] = "",
        x_ticketpilot_step: Annotated[str, Header()] = "",
        x_ticketpilot_prompt_version: Annotated[str, Header()] = "",
        x_ticketpilot_risk_class: Annotated[RiskClass, Header()] = RiskClass.R0,
        x_ticketpilot_failed_fix_iterations: Annotated[int, Header(ge=0)] = 0,
        idempotency_key: Annotated[str, Header()] = "",
    ) -> dict[str, Any] | StreamingResponse:
        if who.tenant not in router.policies and router.default_policy is None:
            raise HTTPException(403, f"tenant {who.tenant!r} has no routing policy on this router")
        context = CallContext(
            tenant=who.tenant, repo=x_ticketpilot_repo, ticket_key=x_ticketpilot_ticket,
            step=x_ticketpilot_step, prompt_version=x_ticketpilot_prompt_version,
            risk_class=x_ticketpilot_risk_class, failed_fix_iterations=x_ticketpilot_failed_fix_iterations,
            call_id=idempotency_key,
        )
        response = router.chat(body.to_request(), context)  # before streaming: errors keep their status code
        if body.stream:
            return StreamingResponse(_sse(response), media_type="text/event-stream")
        return _completion(response)

    @app.get("/v1/models")
    def models(who: Caller = Depends(caller)) -> dict[str, Any]:  # noqa: B008
        policies = [router.policy_for(who.tenant)]  # a tenant sees its own models, not another's policy
        specs = dict.fromkeys(["auto", *(spec for p in policies for spec in p.models())])
        return {"object": "list", "data": [
            {"id": spec, "object": "model", "created": 0, "owned_by": spec.partition(":")[0] or "ticketpilot"}
            for spec in specs]}

    return app


def _extension(response: ChatResponse) -> dict[str, Any]:
    """Router facts an OpenAI client would not know to ask for, under a vendor key it will ignore."""
    return {"cache_hit": response.cache_hit, "cost_usd": str(response.cost_usd), "latency_ms": response.latency_ms,
            "call_id": response.call_id,
            "injection_findings": [f.model_dump() for f in response.injection_findings]}


def _usage(response: ChatResponse) -> dict[str, int]:
    return {"prompt_tokens": response.usage.tokens_in, "completion_tokens": response.usage.tokens_out,
            "total_tokens": response.usage.tokens_in + response.usage.tokens_out}


def _completion(response: ChatResponse) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{response.call_id}", "object": "chat.completion", "created": int(time.time()),
        "model": response.spec,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": response.content},
                     "finish_reason": "stop"}],
        "usage": _usage(response), "ticketpilot": _extension(response),
    }


def _sse(response: ChatResponse) -> Iterator[str]:
    base = {"id": f"chatcmpl-{response.call_id}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": response.spec}

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        payload = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    text = response.content
    for start in range(0, len(text), _STREAM_CHUNK_CHARS):
        yield chunk({"content": text[start:start + _STREAM_CHUNK_CHARS]})
    yield chunk({}, "stop", usage=_usage(response), ticketpilot=_extension(response))
    yield "data: [DONE]\n\n"
