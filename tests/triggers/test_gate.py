from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import psycopg
import pytest
from airflow.triggers.base import TaskSuccessEvent

from include.contracts import GateDecision, GateOutcome, RiskClass
from include.scm.ado import AdoClient
from include.store import gates
from tests.emulators.ado.fixtures import ado_emulator, ado_server
from tests.emulators.ado.server import EmulatorServer
from triggers.gate import GateTrigger
from triggers.gate_votes import AdoVotes
from triggers.gate_waiter import GateWaiter

__all__ = ["ado_emulator", "ado_server"]

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
                      "poll_interval": 0.05, "ado_votes": None, "end_on_approval": False}
    assert "db_url" not in kwargs, "credentials must not be stored in the trigger table"
    assert GateTrigger(**kwargs).serialize() == (path, kwargs)


def test_a_trigger_serialized_before_end_on_approval_still_loads(trigger: GateTrigger) -> None:
    """Gates parked by the previous release resume on a worker, as they were deferred to."""
    _, kwargs = trigger.serialize()
    older = {k: v for k, v in kwargs.items() if k != "end_on_approval"}
    assert GateTrigger(**older).end_on_approval is False


@pytest.mark.parametrize("decision", [GateOutcome.APPROVE, GateOutcome.REJECT])
async def test_an_approval_ends_the_task_in_the_triggerer_a_rejection_resumes_the_sensor(
        db: psycopg.Connection, decision: GateOutcome) -> None:
    """No worker start and no scheduler round to return a value the trigger already has: an approved task
    succeeds from the triggerer with the sensor's XCom, so the merge is scheduled at once. A rejection resumes
    `execute_complete`, which fails the task with the approver's reason."""
    open_gate(db)
    gates.record_decision(db, GateDecision(ticket_key=TICKET_KEY, run_id=RUN_ID, decision=decision,
                                           approver="alice", comment="decided"))
    ending = GateTrigger(ticket_key=TICKET_KEY, run_id=RUN_ID, timeout_at=time.time() + 30, poll_interval=0.05,
                         end_on_approval=True)
    [event] = [e async for e in ending.run()]
    if decision is GateOutcome.REJECT:
        assert not isinstance(event, TaskSuccessEvent) and event.payload["status"] == "rejected"
        return
    assert isinstance(event, TaskSuccessEvent)
    value = event.xcoms["return_value"]
    assert value["status"] == "approved" and [d["approver"] for d in value["decisions"]] == ["alice"]


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


async def until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def trigger_for(index: int, timeout_s: float = 30) -> GateTrigger:
    return GateTrigger(ticket_key=f"demo-{index}", run_id=RUN_ID, timeout_at=time.time() + timeout_s)


def connections(db: psycopg.Connection) -> int:
    """Backends on the test database other than the fixture's own."""
    return db.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid()").fetchone()["n"]


async def test_many_parked_gates_share_two_connections_and_each_wakes_its_own(db: psycopg.Connection,
                                                                              db_url: str) -> None:
    parked = 200
    for i in range(parked):
        gates.request_gate(db, ticket_key=f"demo-{i}", run_id=RUN_ID, risk_class=RiskClass.R2, named_approvers=[])
    baseline = connections(db)
    tasks = {i: asyncio.create_task(first_event(trigger_for(i))) for i in range(parked)}
    waiter = GateWaiter.current(db_url)
    await until(lambda: waiter.waiting == parked and waiter.listener_pid is not None)
    await asyncio.sleep(0.3)
    assert connections(db) - baseline <= 2, "one LISTEN connection and one pooled one, whatever the number of gates"

    started = time.monotonic()
    gates.record_decision(db, GateDecision(ticket_key="demo-7", run_id=RUN_ID, decision=GateOutcome.APPROVE,
                                           approver="alice"))
    event = await asyncio.wait_for(tasks.pop(7), timeout=5)
    assert (event["status"], event["ticket_key"]) == ("approved", "demo-7")
    assert time.monotonic() - started < 1.0, "a NOTIFY wakes the gate at once, not at the next re-check"
    assert not any(t.done() for t in tasks.values()), "the other gates keep waiting"
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    assert waiter.waiting == 0
    await asyncio.sleep(0.3)
    assert connections(db) == baseline, "the waiter closes its connections when its last gate leaves"


async def test_a_lost_notification_is_caught_by_the_batched_recheck(
        db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_GATE_RECHECK_S", "0.5")
    open_gate(db)

    async def decide_without_notify() -> None:
        await asyncio.sleep(0.3)
        db.execute("UPDATE ticketpilot.gate_requests SET status = 'rejected' WHERE ticket_key = %s", (TICKET_KEY,))

    event, _ = await asyncio.wait_for(
        asyncio.gather(first_event(GateTrigger(ticket_key=TICKET_KEY, run_id=RUN_ID, timeout_at=time.time() + 30)),
                       decide_without_notify()), timeout=5)
    assert event["status"] == "rejected"


async def test_a_cut_listen_connection_reconnects_and_rechecks(db: psycopg.Connection, db_url: str,
                                                               trigger: GateTrigger) -> None:
    open_gate(db)
    waiting = asyncio.create_task(first_event(trigger))
    waiter = GateWaiter.current(db_url)
    await until(lambda: waiter.listener_pid is not None)
    db.execute("SELECT pg_terminate_backend(%s)", (waiter.listener_pid,))
    gates.record_decision(db, GateDecision(ticket_key=TICKET_KEY, run_id=RUN_ID, decision=GateOutcome.APPROVE,
                                           approver="alice"))  # its NOTIFY reaches nobody
    event = await asyncio.wait_for(waiting, timeout=10)
    assert event["status"] == "approved"


async def test_a_database_outage_delays_the_gate_and_never_fails_it(
        db: psycopg.Connection, trigger: GateTrigger, monkeypatch: pytest.MonkeyPatch) -> None:
    from include.settings import get_settings

    monkeypatch.setenv("TICKETPILOT_DB_URL", "postgresql://nobody@/nowhere?host=/nonexistent")
    get_settings.cache_clear()
    waiting = asyncio.create_task(first_event(trigger))
    done, _ = await asyncio.wait({waiting}, timeout=1.5)
    get_settings.cache_clear()
    assert not done, "no error event while the database is away: the gate keeps waiting"
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)


# --- an ado tenant's gate also reads its approvers' votes on the PR ------------------------------------------

ADO_CONN = "ado_gate_test"
CAROL = "carol-00-0000-4000-8000-0000000000c1"  # the emulator signs reviewers in as <first 8 chars>@example.test
MALLORY = "mallory0-0000-4000-8000-0000000000e1"


@pytest.fixture
def ado_pr(ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> tuple[AdoClient, int]:
    conn = {"conn_type": "azure_devops", "host": ado_emulator.org_url, "password": "pat", "extra": {"project": "proj"}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{ADO_CONN.upper()}", json.dumps(conn))
    client = AdoClient.with_pat(ado_emulator.org_url, "proj", "pat")
    main = ado_emulator.seed_repo("app", {"README.md": "hi\n"})
    client.create_branch("app", "tp/42-x", main)
    return client, client.create_pr("app", "tp/42-x", "main", "X", is_draft=False).pull_request_id


def ado_trigger(pr_id: int) -> GateTrigger:
    votes = AdoVotes(azure_devops_conn_id=ADO_CONN, repo="app", pr_id=pr_id, approvers=["Carol-00@example.test"])
    return GateTrigger(ticket_key=TICKET_KEY, run_id=RUN_ID, timeout_at=time.time() + 10, poll_interval=0.05,
                       ado_votes=votes)


async def test_an_approvers_vote_in_ado_passes_an_r2_gate_without_any_hook(
        db: psycopg.Connection, ado_pr: tuple[AdoClient, int]) -> None:
    client, pr_id = ado_pr
    open_gate(db)
    trigger = ado_trigger(pr_id)
    assert GateTrigger(**trigger.serialize()[1]).serialize() == trigger.serialize()

    async def votes_soon() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(client.set_vote, "app", pr_id, MALLORY, 10)  # not a tenant approver
        await asyncio.sleep(0.2)
        await asyncio.to_thread(client.set_vote, "app", pr_id, CAROL, 10)

    event, _ = await asyncio.gather(first_event(trigger), votes_soon())
    assert event["status"] == "approved"
    assert [(d["approver"], d["source"]) for d in event["decisions"]] == [("Carol-00@example.test", "ado")], \
        "the tenant's spelling is recorded; a reviewer outside the approver list counts for nothing"


async def test_a_rejecting_vote_in_ado_rejects_the_gate(db: psycopg.Connection,
                                                        ado_pr: tuple[AdoClient, int]) -> None:
    client, pr_id = ado_pr
    open_gate(db)
    client.set_vote("app", pr_id, CAROL, -10)
    event = await first_event(ado_trigger(pr_id))
    assert event["status"] == "rejected"
    assert gates.decisions(db, TICKET_KEY, RUN_ID)[0]["comment"] == f"ADO pull request {pr_id}: reject"
