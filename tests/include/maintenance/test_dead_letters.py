"""Dead letters of the outbox on the real PostgreSQL: a row the spawner gave up on is replayed at once and the
spawner is woken (its claim query takes the row again), then with backoff (30 min, 2 h), then given up and
reported once; healthy and processed rows are never touched; a batch caps a round; a person's replay starts a
given-up row over; each round that changes something is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from include.airflow_client import AirflowClient
from include.maintenance.dead_letters import abandoned, replay, replay_now
from include.spawner.service import CHANNEL, MAX_ATTEMPTS, Spawner
from include.store.tenants import create_tenant

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def outbox(db: psycopg.Connection) -> dict[str, int]:
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "web", [])
    ids = {}
    for n, (attempts, processed) in enumerate([(MAX_ATTEMPTS, False), (3, False), (MAX_ATTEMPTS, True)], start=1):
        db.execute("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, ticket) "
                   "VALUES (%s, 'acme', %s, 1, %s, '{}')", (f"acme-{n}", n, f"ticket__acme__{n}"))
        ids[f"acme-{n}"] = db.execute(
            "INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, attempts, last_error, processed_at) "
            "VALUES (%s, %s, 1, %s, 'Airflow answered 503', %s) RETURNING id",
            (f"acme-{n}", f"ticket__acme__{n}", attempts, T0 if processed else None)).fetchone()["id"]
    return ids


def claimable(db: psycopg.Connection) -> list[str]:
    with AirflowClient("http://127.0.0.1:9", "unused", "unused") as client, db.transaction():
        return [r["ticket_key"] for r in Spawner(airflow=client).pending(db)]


def dies_again(db: psycopg.Connection, outbox_id: int) -> None:
    db.execute("UPDATE ticketpilot.outbox SET attempts = %s WHERE id = %s", (MAX_ATTEMPTS, outbox_id))


def test_a_dead_row_is_replayed_with_backoff_then_given_up_once(db: psycopg.Connection, db_url: str,
                                                                outbox: dict[str, int]) -> None:
    assert claimable(db) == ["acme-2"]
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        first = replay(db, actor="dlq", now=T0)
        assert [n.channel for n in listener.notifies(timeout=2, stop_after=1)] == [CHANNEL]
    assert [d.ticket_key for d in first.replayed] == ["acme-1"] and first.gave_up == []
    assert "Airflow answered 503" in first.replayed[0].line()
    assert claimable(db) == ["acme-1", "acme-2"], "the spawner takes the replayed row again"

    dead = outbox["acme-1"]
    dies_again(db, dead)
    assert replay(db, actor="dlq", now=T0 + timedelta(minutes=29)).waiting == 1
    assert len(replay(db, actor="dlq", now=T0 + timedelta(minutes=31)).replayed) == 1
    dies_again(db, dead)
    assert replay(db, actor="dlq", now=T0 + timedelta(minutes=31 + 119)).waiting == 1
    assert len(replay(db, actor="dlq", now=T0 + timedelta(minutes=31 + 121)).replayed) == 1
    dies_again(db, dead)
    last = replay(db, actor="dlq", now=T0 + timedelta(hours=12))
    assert [d.id for d in last.gave_up] == [dead] and last.replayed == [] and last.abandoned == 0
    later = replay(db, actor="dlq", now=T0 + timedelta(days=1))
    assert later.gave_up == [] and later.abandoned == 1, "reported once, then only counted"
    assert [d.id for d in abandoned(db)] == [dead] and claimable(db) == ["acme-2"]

    row = db.execute("SELECT attempts, processed_at FROM ticketpilot.outbox WHERE id = %s",
                     (outbox["acme-2"],)).fetchone()
    assert row["attempts"] == 3, "a row the spawner is still retrying is not the dead-letter DAG's"
    assert db.execute("SELECT replays FROM ticketpilot.outbox WHERE id = %s",
                      (outbox["acme-3"],)).fetchone()["replays"] == 0, "a processed row is never replayed"
    actions = db.execute("SELECT details FROM ticketpilot.audit_log WHERE action = 'outbox.dead_letters' "
                         "ORDER BY id").fetchall()
    assert [a["details"] for a in actions] == [{"replayed": [dead], "gave_up": []}] * 3 + [
        {"replayed": [], "gave_up": [dead]}]


def test_a_person_s_replay_starts_a_given_up_row_over(db: psycopg.Connection, outbox: dict[str, int]) -> None:
    dead = outbox["acme-1"]
    db.execute("UPDATE ticketpilot.outbox SET replays = 3, gave_up_at = now() WHERE id = %s", (dead,))
    letter = replay_now(db, dead, actor="ops-ann")
    assert letter is not None and letter.replays == 0
    assert claimable(db) == ["acme-1", "acme-2"]
    assert replay_now(db, outbox["acme-3"], actor="ops-ann") is None, "a processed row is not waiting"
    assert replay_now(db, 999_999, actor="ops-ann") is None


def test_a_round_replays_at_most_its_batch(db: psycopg.Connection, outbox: dict[str, int]) -> None:
    db.execute("UPDATE ticketpilot.outbox SET attempts = %s, processed_at = NULL", (MAX_ATTEMPTS,))
    report = replay(db, actor="dlq", now=T0, batch=2)
    assert [d.ticket_key for d in report.replayed] == ["acme-1", "acme-2"] and report.waiting == 1
    assert [d.ticket_key for d in replay(db, actor="dlq", now=T0, batch=2).replayed] == ["acme-3"]
