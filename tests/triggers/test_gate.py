from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from include.contracts import GateDecision, GateOutcome, RiskClass
from include.store import gates
from triggers.gate import GateTrigger

TICKET_KEY = "demo-42"
RUN_ID = "ticket__r1"


@pytest.fixture
def trigger() -> GateTrigger:
    return GateTrigger(ticket_key=TICKET_KEY, run_id=RUN_ID, timeout_at=time.time() + 30, poll_interval=0.05)


def open_gate(db: psycopg.Connection, risk: RiskClass = RiskClass.R2) -> None:
    gates.request_gate(db, ticket_key=TICKET_KEY, run_id=RUN_ID, risk_class=risk, named_approvers=["alice"])


async def first_event(trigger: GateTrigger) -> dict:
    events = [e.payload async for e in trigger.run()]
    assert len(events) == 1, "a trigger yields exactly one event"
    return events[0]


def test_serialize(trigger: GateTrigger) -> None:
    path, kwargs = trigger.serialize()
    assert path == "triggers.gate.GateTrigger"
    assert kwargs == {"ticket_key": TICKET_KEY, "run_id": RUN_ID, "timeout_at": trigger.timeout_at,
                      "poll_interval": 0.05}
    assert "db_url" not in kwargs, "credentials must not be stored in the trigger table"
    assert GateTrigger(**kwargs).serialize() == (path, kwargs)


async def test_timeout_yields_timeout(db: psycopg.Connection) -> None:
    open_gate(db)
    expired = GateTrigger(ticket_key=TICKET_KEY, run_id=RUN_ID, timeout_at=time.time() - 1, poll_interval=0.05)
    event = await first_event(expired)
    assert event["status"] == "timeout"


async def test_rejection_yields_rejected_with_who(db: psycopg.Connection, trigger: GateTrigger) -> None:
    open_gate(db)

    async def reject_soon() -> None:
        await asyncio.sleep(0.2)
        gates.record_decision(db, GateDecision(ticket_key=TICKET_KEY, run_id=RUN_ID, decision=GateOutcome.REJECT,
                                               approver="bob", comment="not without a rollback plan"))

    event, _ = await asyncio.gather(first_event(trigger), reject_soon())
    assert event["status"] == "rejected"
    assert event["decisions"][0]["approver"] == "bob"
    assert event["decisions"][0]["comment"] == "not without a rollback plan"


async def test_approval_yields_approved(db: psycopg.Connection, trigger: GateTrigger) -> None:
    open_gate(db)
    gates.record_decision(db, GateDecision(ticket_key=TICKET_KEY, run_id=RUN_ID, decision=GateOutcome.APPROVE,
                                           approver="alice"))
    event = await first_event(trigger)
    assert event["status"] == "approved"
    assert [d["approver"] for d in event["decisions"]] == ["alice"]


async def test_missing_gate_becomes_an_error_event(db: psycopg.Connection, trigger: GateTrigger) -> None:
    event = await first_event(trigger)
    assert event["status"] == "error"
    assert "does not exist" in event["message"]


async def test_database_failure_becomes_an_error_event(
    db: psycopg.Connection, trigger: GateTrigger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.settings import get_settings

    monkeypatch.setenv("TICKETPILOT_DB_URL", "postgresql://nobody@/nowhere?host=/nonexistent")
    get_settings.cache_clear()
    event = await first_event(trigger)
    get_settings.cache_clear()
    assert event["status"] == "error"
    assert "OperationalError" in event["message"]
