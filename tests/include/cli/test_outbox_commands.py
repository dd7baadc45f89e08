"""`ticketpilot outbox dead|replay` against the real PostgreSQL: given-up rows listed with their last error, one
replayed by a person (audited with their name), and a row that is not waiting refused with exit 2."""

from __future__ import annotations

import psycopg
import pytest

from include.spawner.service import MAX_ATTEMPTS
from include.store.tenants import create_tenant
from tests.include.cli.helpers import run


def test_list_and_replay_dead_letters(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("USER", "ops-ann")
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "web", [])
    assert run(capsys, "outbox", "dead")[1].startswith("no dead letters")
    row = db.execute("INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, attempts, replays, last_error, "
                     "gave_up_at) VALUES ('acme-1', 'ticket__acme__1', 1, %s, 3, 'Airflow answered 503', now()) "
                     "RETURNING id", (MAX_ATTEMPTS,)).fetchone()["id"]
    code, out, _ = run(capsys, "outbox", "dead")
    assert code == 0 and f"outbox {row} (spawn of acme-1 rev 1" in out and "Airflow answered 503" in out
    code, out, _ = run(capsys, "outbox", "replay", str(row))
    assert code == 0 and out.strip() == f"outbox {row} (spawn of acme-1) handed to the spawner again"
    assert run(capsys, "outbox", "dead")[1].startswith("no dead letters")
    audit = db.execute("SELECT actor, action FROM ticketpilot.audit_log").fetchall()
    assert [(a["actor"], a["action"]) for a in audit] == [("ops-ann", "outbox.replay")]
    db.execute("UPDATE ticketpilot.outbox SET processed_at = now()")
    code, _, err = run(capsys, "outbox", "replay", str(row))
    assert code == 2 and "is not waiting" in err
