"""A human decision on a gate, as stored and audited."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class GateOutcome(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class GateDecision(BaseModel):
    """Who decided what on which ticket's gate, and through which channel."""

    ticket_key: str
    run_id: str | None = None
    decision: GateOutcome
    approver: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=4000)
    source: str = Field(default="rest", pattern=r"^(rest|ui|ado)$")
    decided_at: datetime | None = None
