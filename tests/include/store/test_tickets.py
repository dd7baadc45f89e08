from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from include.contracts.ticket import TicketState
from include.store.db import connect
from include.store.tenants import Tenant, authenticate, create_tenant, get_tenant, secret_digest
from include.store.tickets import OUTBOX_CHANNEL, accept_delivery, get_ticket, load_open_tickets
from include.tickets.ado import AdoDelivery, parse_ado_delivery

CREATED = Path(__file__).resolve().parents[2] / "fixtures" / "ado-events" / "workitem.created.json"
TENANT = "acme"
SECRET = "hook-secret-1"


@pytest.fixture
def tenant(db: psycopg.Connection) -> Tenant:
    return create_tenant(db, TENANT, "ado-acme", SECRET, "web", ["alice"])


def delivery(event_id: str = "evt-1", rev: int = 1, *, title: str = "Add CSV export", state: str = "New",
             workitem_id: int = 5) -> AdoDelivery:
    payload = json.loads(CREATED.read_text())
    payload["id"] = event_id
    payload["resource"].update(id=workitem_id, rev=rev)
    payload["resource"]["fields"].update({"System.Title": title, "System.State": state})
    return parse_ado_delivery(payload, tenant=TENANT, default_repo="web")


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM ticketpilot.{table}").fetchone()["n"]


def test_tenant_stores_a_digest_and_upserts(db: psycopg.Connection, tenant: Tenant) -> None:
    row = db.execute("SELECT hook_secret_sha256 FROM ticketpilot.tenants").fetchone()
    assert row["hook_secret_sha256"] == secret_digest(SECRET) != SECRET
    again = create_tenant(db, TENANT, "ado-acme", "rotated", "api", ["alice", "bob"])
    assert count(db, "tenants") == 1
    assert get_tenant(db, TENANT) == again and again.default_repo == "api" and again.approvers == ["alice", "bob"]
    assert get_tenant(db, "nobody") is None


def test_authenticate(tenant: Tenant) -> None:
    assert authenticate(tenant, "ado-acme", SECRET)
    assert not authenticate(tenant, "ado-acme", "wrong")
    assert not authenticate(tenant, "someone", SECRET)
    assert not authenticate(None, "", "")


def test_new_open_ticket_is_stored_queued_and_announced(db: psycopg.Connection, db_url: str,
                                                        tenant: Tenant) -> None:
    with connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
        accepted = accept_delivery(db, delivery())
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert (accepted.ticket_key, accepted.dag_id, accepted.duplicate, accepted.rev) == (
        "acme-5", "ticket__acme__5", False, 1)
    outbox = db.execute("SELECT id, ticket_key, dag_id, rev, kind FROM ticketpilot.outbox").fetchall()
    assert outbox == [{"id": 1, "ticket_key": "acme-5", "dag_id": "ticket__acme__5", "rev": 1, "kind": "spawn"}]
    assert [(n.channel, n.payload) for n in notes] == [(OUTBOX_CHANNEL, "1")]
    stored = get_ticket(db, "acme-5")
    assert stored == delivery().ticket


def test_repeated_delivery_is_a_duplicate_and_writes_nothing(db: psycopg.Connection, db_url: str,
                                                             tenant: Tenant) -> None:
    first = accept_delivery(db, delivery())
    with connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
        again = accept_delivery(db, delivery())
        notes = list(listener.notifies(timeout=0.5))
    assert again.duplicate and (again.ticket_key, again.dag_id, again.rev) == (first.ticket_key, first.dag_id, 1)
    assert (count(db, "deliveries"), count(db, "tickets"), count(db, "outbox")) == (1, 1, 1)
    assert notes == []


def test_newer_rev_updates_and_older_rev_never_overwrites(db: psycopg.Connection, tenant: Tenant) -> None:
    accept_delivery(db, delivery("evt-1", 1, title="First title"))
    accept_delivery(db, delivery("evt-3", 3, title="Third title"))
    late = accept_delivery(db, delivery("evt-2", 2, title="Second title"))
    assert not late.duplicate and late.rev == 2
    ticket = get_ticket(db, "acme-5")
    assert ticket is not None and (ticket.rev, ticket.title) == (3, "Third title")
    row = db.execute("SELECT rev, ticket->>'title' AS title FROM ticketpilot.tickets").fetchone()
    assert row == {"rev": 3, "title": "Third title"}
    assert count(db, "deliveries") == 3
    kinds = db.execute("SELECT rev, kind FROM ticketpilot.outbox ORDER BY id").fetchall()
    assert kinds == [{"rev": 1, "kind": "spawn"}, {"rev": 3, "kind": "replan"}]  # the late rev 2 queues nothing


def test_closing_sets_closed_at_and_reopening_clears_it(db: psycopg.Connection, tenant: Tenant) -> None:
    accept_delivery(db, delivery("evt-1", 1))
    accept_delivery(db, delivery("evt-2", 2, state="Closed"))
    closed = db.execute("SELECT state, closed_at FROM ticketpilot.tickets").fetchone()
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    assert get_ticket(db, "acme-5").state is TicketState.CLOSED
    accept_delivery(db, delivery("evt-3", 3, state="Active"))
    assert db.execute("SELECT state, closed_at FROM ticketpilot.tickets").fetchone() == {
        "state": "open", "closed_at": None}


def test_a_ticket_first_seen_closed_is_not_spawned(db: psycopg.Connection, tenant: Tenant) -> None:
    accept_delivery(db, delivery(state="Removed"))
    assert (count(db, "tickets"), count(db, "outbox")) == (1, 0)


def test_failed_delivery_leaves_nothing_behind(db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        accept_delivery(db, delivery())  # no tenant row: the ticket insert fails after the dedupe insert
    assert (count(db, "deliveries"), count(db, "tickets"), count(db, "outbox")) == (0, 0, 0)


def test_load_open_tickets_keeps_recently_closed_ones(db: psycopg.Connection, tenant: Tenant) -> None:
    accept_delivery(db, delivery("evt-open", workitem_id=1))
    accept_delivery(db, delivery("evt-recent", workitem_id=2, state="Closed"))
    accept_delivery(db, delivery("evt-old", workitem_id=3, state="Done"))
    db.execute("UPDATE ticketpilot.tickets SET closed_at = now() - interval '48 hours' WHERE workitem_id = 3")
    assert [t.ticket_key for t in load_open_tickets(db)] == ["acme-1", "acme-2"]
    assert [t.ticket_key for t in load_open_tickets(db, retention_hours=72)] == ["acme-1", "acme-2", "acme-3"]


def test_get_ticket_unknown(db: psycopg.Connection) -> None:
    assert get_ticket(db, "acme-404") is None


def outbox(conn: psycopg.Connection) -> list[tuple[int, str]]:
    return [(r["rev"], r["kind"]) for r in conn.execute("SELECT rev, kind FROM ticketpilot.outbox ORDER BY id")]


def test_a_changed_plan_queues_one_replan_per_rev(db: psycopg.Connection, tenant: Tenant) -> None:
    accept_delivery(db, delivery("evt-1", 1, title="Add CSV export"))
    accept_delivery(db, delivery("evt-2", 2, title="Add CSV and XLSX export"))
    accept_delivery(db, delivery("evt-2", 2, title="Add CSV and XLSX export"))  # ADO's retry: a duplicate
    accept_delivery(db, delivery("evt-2b", 2, title="Add CSV and XLSX export"))  # same rev, another event
    accept_delivery(db, delivery("evt-3", 3, title="Add CSV and XLSX export", state="Active"))  # no plan change
    assert outbox(db) == [(1, "spawn"), (2, "replan")]


def test_closing_queues_a_cancel_and_reopening_a_spawn(db: psycopg.Connection, tenant: Tenant) -> None:
    accept_delivery(db, delivery("evt-1", 1))
    accept_delivery(db, delivery("evt-2", 2, state="Removed"))
    accept_delivery(db, delivery("evt-3", 3, state="Done"))  # still closed: nothing more to stop
    accept_delivery(db, delivery("evt-4", 4, state="Active"))
    assert outbox(db) == [(1, "spawn"), (2, "cancel"), (4, "spawn")]
