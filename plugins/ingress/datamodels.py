"""Request and response bodies of the ingress app: the HTTP contract, kept apart from the routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from include.contracts.gate import GateOutcome


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class AcceptedResponse(BaseModel):
    """202 for a new delivery, 200 with the same body for a repeat: ADO must see 2xx for both."""

    ticket_key: str
    dag_id: str
    rev: int


class RecordedResponse(BaseModel):
    """The answer to a comment, pull-request or build delivery: 202 when it changed something, else 200
    (a repeat, or nothing to do: ADO must see 2xx either way); `note` says what happened. Also the 200 for a
    GitHub/GitLab ping or an event that makes no ticket (`recorded` 0, `note` the reason)."""

    event_type: str
    ticket_key: str | None
    recorded: int
    note: str


class GateDecisionBody(BaseModel):
    """The approver comes from the Airflow token, never from the body."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=4000)
    run_id: str | None = Field(default=None, min_length=1, max_length=250)


class DecisionView(BaseModel):
    approver: str
    decision: GateOutcome
    comment: str
    source: str
    decided_at: datetime


class GateView(BaseModel):
    """A gate and every decision recorded on it so far."""

    ticket_key: str
    run_id: str
    risk_class: str
    status: Literal["pending", "approved", "rejected"]
    required_approvals: int
    named_approvers: list[str]
    requested_at: datetime
    decided_at: datetime | None
    decisions: list[DecisionView]

    @classmethod
    def from_rows(cls, gate: dict[str, Any], decisions: list[dict[str, Any]]) -> GateView:
        return cls.model_validate({**gate, "decisions": decisions})
