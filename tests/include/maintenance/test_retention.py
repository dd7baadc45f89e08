"""Retention per data class on the real PostgreSQL and real files: only what is past its days goes (transcripts
by a ticket's newest file, cached model answers, delivery ids, task logs, sandbox environments by last use); a
tenant's own days replace the default for its data only; a dry run counts and removes nothing; a purge is
audited; the cost ledger is never touched."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from include.maintenance.retention import DataClass, purge, set_days, tenant_days
from include.sandbox.venv import MARKER
from include.store.tenants import create_tenant
from model_serving.router import ledger

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def aged(path: Path, days: float, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = (NOW - timedelta(days=days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def platform(db: psycopg.Connection, tmp_path: Path) -> Path:
    for tenant in ("keep-co", "brief-co"):
        db.execute(f'DROP SCHEMA IF EXISTS "tenant_{tenant.replace("-", "_")}" CASCADE')
        db.execute("DELETE FROM ticketpilot.tenant_schemas WHERE tenant_id = %s", (tenant,))
        create_tenant(db, tenant, tenant, "s3cret-s3cret-s3cret", "app", [])
        ledger.ensure_tenant_schema(db, tenant)
        home = tmp_path / "home"
        aged(home / "transcripts" / tenant / f"{tenant}-1" / "dev.jsonl", 120)
        aged(home / "transcripts" / tenant / f"{tenant}-2" / "dev.jsonl", 120)
        aged(home / "transcripts" / tenant / f"{tenant}-2" / "test.jsonl", 10)  # the ticket is still fresh
        aged(home / "transcripts" / tenant / f"{tenant}-3" / "dev.jsonl", 40)
        cache = ledger.table(tenant, "response_cache")
        for key, days in (("old", 45), ("new", 5)):
            db.execute(ledger.sql.SQL("INSERT INTO {} (key, model, response, created_at) VALUES (%s, 'm', '{{}}', %s)"
                                      ).format(cache), (f"{tenant}-{key}", NOW - timedelta(days=days)))
        for event, days in (("e-old", 100), ("e-new", 1)):
            db.execute("INSERT INTO ticketpilot.deliveries (tenant_id, event_id, rev, ticket_key, event_type, "
                       "received_at) VALUES (%s, %s, 1, %s, 'workitem.created', %s)",
                       (tenant, event, f"{tenant}-1", NOW - timedelta(days=days)))
        ledger.record_call(db, ledger.CallRecord(context=ledger.CallContext(tenant=tenant), provider="openai",
                                                 model="gpt-4o-mini", status="ok", idempotency_key=f"{tenant}-c"))
        db.execute(ledger.sql.SQL("UPDATE {} SET created_at = %s").format(ledger.table(tenant, "calls")),
                   (NOW - timedelta(days=800),))
    set_days(db, "brief-co", DataClass.TRANSCRIPTS, 30)
    aged(home / "venvs" / "a1" / MARKER, 20)
    aged(home / "venvs" / "b2" / MARKER, 2)
    aged(tmp_path / "logs" / "dag_id=x" / "run_id=1" / "task_id=t" / "attempt=1.log", 31)
    aged(tmp_path / "logs" / "dag_id=x" / "run_id=2" / "task_id=t" / "attempt=1.log", 3)
    return home


def test_only_what_is_past_its_days_goes(platform: Path, db: psycopg.Connection, tmp_path: Path) -> None:
    report = purge(db, home=platform, task_logs=tmp_path / "logs", actor="retention", now=NOW)
    assert report.removed == {
        "transcripts:keep-co": 1, "transcripts:brief-co": 2,  # brief-co keeps 30 days: its 40-day ticket goes too
        "model_responses:keep-co": 1, "model_responses:brief-co": 1,
        "deliveries:keep-co": 1, "deliveries:brief-co": 1, "task_logs": 1, "sandbox_venvs": 1}
    assert sorted(p.name for p in (platform / "transcripts" / "keep-co").iterdir()) == ["keep-co-2", "keep-co-3"]
    assert sorted(p.name for p in (platform / "transcripts" / "brief-co").iterdir()) == ["brief-co-2"]
    assert sorted(p.name for p in (platform / "venvs").iterdir() if p.is_dir()) == ["b2"]
    assert [p.name for p in (tmp_path / "logs" / "dag_id=x").iterdir()] == ["run_id=2"], "empty folders go too"
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.deliveries").fetchone()["n"] == 2
    for tenant in ("keep-co", "brief-co"):
        assert len(ledger.calls(db, tenant)) == 1, "the cost ledger is a record, never expired"
    entry = db.execute("SELECT action, details FROM ticketpilot.audit_log "
                       "WHERE action = 'maintenance.retention'").fetchone()
    assert entry["action"] == "maintenance.retention" and entry["details"]["removed"] == report.removed
    assert purge(db, home=platform, task_logs=tmp_path / "logs", actor="retention", now=NOW).removed == {}


def test_a_dry_run_counts_and_removes_nothing(platform: Path, db: psycopg.Connection, tmp_path: Path) -> None:
    report = purge(db, home=platform, task_logs=tmp_path / "logs", actor="retention", now=NOW, dry_run=True)
    assert report.removed["transcripts:brief-co"] == 2
    assert report.lines()[0].startswith("deliveries:brief-co: would remove 1")
    assert (platform / "transcripts" / "keep-co" / "keep-co-1").is_dir()
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.deliveries").fetchone()["n"] == 4
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.audit_log "
                      "WHERE action = 'maintenance.retention'").fetchone()["n"] == 0


def test_a_tenant_s_days_are_its_own(db: psycopg.Connection) -> None:
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "app", [])
    assert tenant_days(db, "acme")[DataClass.TRANSCRIPTS] == 90
    assert set_days(db, "acme", DataClass.TRANSCRIPTS, 7) and not set_days(db, "acme", DataClass.TRANSCRIPTS, 7)
    assert tenant_days(db, "acme")[DataClass.TRANSCRIPTS] == 7
    assert set_days(db, "acme", DataClass.TRANSCRIPTS, None)
    assert tenant_days(db, "acme")[DataClass.TRANSCRIPTS] == 90
    with pytest.raises(ValueError, match="the platform's, not a tenant's"):
        set_days(db, "acme", DataClass.TASK_LOGS, 3)
