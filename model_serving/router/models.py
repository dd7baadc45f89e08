"""Contracts of the router: what agents send, what they get back, and each tenant's routing policy."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from include.contracts.risk import RiskClass
from include.contracts.ticket import TENANT_PATTERN

MODEL_SPEC_PATTERN = r"^[a-z][a-z0-9-]*:\S+$"
"""A model is always named "provider:model", e.g. "anthropic:claude-3-5-haiku-latest" or "vllm:qwen2.5-7b"."""

DataBoundary = Literal["any", "self_hosted_only", "no_training"]


def _check_spec(value: str) -> str:
    if not re.match(MODEL_SPEC_PATTERN, value):
        raise ValueError(f"model {value!r} must be written 'provider:model', e.g. 'openai:gpt-4o-mini'")
    return value


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """One chat completion. `model` pins a model and bypasses the policy's choice (not its data boundary)."""

    model_config = ConfigDict(frozen=True)

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int = Field(default=1024, ge=1, le=200_000)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    response_format: Literal["text", "json"] = "text"
    json_schema: dict[str, Any] | None = None
    """With `response_format="json"`: the JSON Schema the answer must match. Servers that constrain decoding
    to a schema (vLLM, llama.cpp, OpenAI structured outputs) get it; it turns a small model's near-misses
    into valid answers. The answer is validated by the caller all the same."""
    model: str | None = None

    @field_validator("model")
    @classmethod
    def _model_spec(cls, value: str | None) -> str | None:
        return None if value is None else _check_spec(value)

    @model_validator(mode="after")
    def _schema_needs_json(self) -> ChatRequest:
        if self.json_schema is not None and self.response_format != "json":
            raise ValueError("json_schema needs response_format='json'")
        return self


class Usage(BaseModel):
    tokens_in: int = Field(ge=0)
    tokens_out: int = Field(ge=0)


class InjectionFinding(BaseModel):
    """A suspected prompt injection: recorded and reported, never obeyed."""

    rule: str
    excerpt: str
    message_index: int


class ChatResponse(BaseModel):
    content: str
    usage: Usage
    provider: str
    model: str
    latency_ms: int
    cache_hit: bool
    cost_usd: Decimal
    call_id: str
    injection_findings: list[InjectionFinding] = Field(default_factory=list)

    @property
    def spec(self) -> str:
        return f"{self.provider}:{self.model}"


class CallContext(BaseModel):
    """Who is calling and why: the ledger row's dimensions and the inputs of escalation.

    `call_id` is the idempotency key of the ledger row. Leave it empty and the router derives one from the
    ticket, step, prompt version and request, so a retried step that repeats its call writes no second row.
    """

    model_config = ConfigDict(frozen=True)

    tenant: str = Field(pattern=TENANT_PATTERN)
    repo: str = ""
    ticket_key: str = ""
    step: str = ""
    prompt_version: str = ""
    risk_class: RiskClass = RiskClass.R0
    failed_fix_iterations: int = Field(default=0, ge=0)
    call_id: str = ""


class EscalationRules(BaseModel):
    """When the large model is worth its price."""

    risk_classes: list[RiskClass] = Field(default_factory=lambda: [RiskClass.R2, RiskClass.R3])
    context_tokens_over: int = Field(default=24_000, ge=1)
    failed_fix_iterations: int = Field(default=2, ge=1)


class CanaryPolicy(BaseModel):
    """A candidate model gets `share` of the tickets (by a hash of the ticket key) until it breaches a limit."""

    model: str
    share: float = Field(ge=0.0, le=1.0)
    max_error_rate: float = Field(default=0.2, ge=0.0, le=1.0)
    max_p95_latency_ms: int = Field(default=30_000, ge=1)
    max_cost_per_call: Decimal = Field(default=Decimal("0.50"), ge=0)
    window_calls: int = Field(default=20, ge=1, description="Judge the canary on its last N calls.")
    min_calls: int = Field(default=5, ge=1, description="No verdict before this many calls.")

    @field_validator("model")
    @classmethod
    def _model_spec(cls, value: str) -> str:
        return _check_spec(value)


class RoutingPolicy(BaseModel):
    """A tenant's routing: small model by default, large on escalation, fallbacks in order, optional canary."""

    model_config = ConfigDict(frozen=True)

    default_model: str
    large_model: str
    escalate_on: EscalationRules = Field(default_factory=EscalationRules)
    fallbacks: list[str] = Field(default_factory=list)
    data_boundary: DataBoundary = "any"
    canary: CanaryPolicy | None = None
    cache: bool = True

    @field_validator("default_model", "large_model")
    @classmethod
    def _model_spec(cls, value: str) -> str:
        return _check_spec(value)

    @field_validator("fallbacks")
    @classmethod
    def _fallback_specs(cls, value: list[str]) -> list[str]:
        return [_check_spec(v) for v in value]

    @model_validator(mode="after")
    def _canary_is_new(self) -> RoutingPolicy:
        if self.canary and self.canary.model == self.default_model:
            raise ValueError("the canary model must differ from default_model: it is a candidate to replace it")
        return self

    def models(self) -> list[str]:
        """Every model this policy may call, for `GET /v1/models`."""
        found = [self.default_model, self.large_model, *self.fallbacks]
        if self.canary:
            found.append(self.canary.model)
        return list(dict.fromkeys(found))
