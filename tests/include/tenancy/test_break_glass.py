"""Break-glass on the real PostgreSQL: a TOTP-confirmed window of at most an hour opens a tenant's gates to one
admin's approval, is audited at every step, refuses wrong, reused and over-long requests, and ends by itself."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pyotp
import pytest
from airflow.models.crypto import get_fernet
from cryptography.fernet import Fernet

from include.contracts import GateDecision, GateOutcome, RiskClass
from include.store import audit, gates
from include.tenancy.break_glass import (
    BreakGlassRefused,
    active_window,
    close_window,
    enroll,
    open_window,
    windows,
)

RUN = "manual__1"


@pytest.fixture
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    get_fernet.cache_clear()
    yield
    get_fernet.cache_clear()


@pytest.fixture
def totp(db: psycopg.Connection, fernet_key: None) -> pyotp.TOTP:
    enrolled = enroll(db, "root-ann", actor="ops-lead")
    assert enrolled.uri.startswith("otpauth://totp/Ticketpilot:root-ann?secret=")
    stored = db.execute("SELECT secret_fernet FROM ticketpilot.admin_totp WHERE admin = 'root-ann'").fetchone()
    assert enrolled.secret not in stored["secret_fernet"], "stored encrypted"
    return pyotp.TOTP(enrolled.secret)


def r3_gate(db: psycopg.Connection, key: str = "acme-9") -> None:
    db.execute("INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, default_repo) "
               "VALUES ('acme', 'hook', 'x', 'web') ON CONFLICT DO NOTHING")
    db.execute("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, ticket) VALUES "
               "(%s, 'acme', 9, 1, 'ticket__acme__9', %s)", (key, json.dumps({"requested_by": "Dana <dana@x.io>"})))
    gates.request_gate(db, ticket_key=key, run_id=RUN, risk_class=RiskClass.R3, named_approvers=["alice"])


def approve(db: psycopg.Connection, who: str, key: str = "acme-9") -> dict:
    return gates.record_decision(db, GateDecision(ticket_key=key, run_id=RUN, decision=GateOutcome.APPROVE,
                                                  approver=who, comment="needed now"))


def test_an_open_window_lets_the_admin_alone_approve_and_is_audited(db: psycopg.Connection,
                                                                   totp: pyotp.TOTP) -> None:
    r3_gate(db)
    assert approve(db, "root-ann")["status"] == "pending", "without a window the admin is one person of two"
    db.execute("DELETE FROM ticketpilot.gate_decisions")
    window = open_window(db, "root-ann", "acme", totp.now(), "prod outage, approvers unreachable", minutes=30)
    assert 29 * 60 < (window.expires_at - window.opened_at).total_seconds() <= 30 * 60
    assert active_window(db, "root-ann", "acme") == window
    assert active_window(db, "root-ann", "other") is None, "one tenant per window"
    assert approve(db, "root-ann")["status"] == "approved"
    rows = db.execute("SELECT actor, action, details FROM ticketpilot.audit_log WHERE chain = 'acme' "
                      "ORDER BY seq").fetchall()
    assert [r["action"] for r in rows][-2:] == ["break_glass.opened", "gate.override"]
    assert rows[-1]["details"]["break_glass_window"] == window.id
    assert rows[-1]["details"]["break_glass_reason"] == "prod outage, approvers unreachable"
    assert audit.verify(db).ok


def test_closing_a_window_ends_the_override(db: psycopg.Connection, totp: pyotp.TOTP) -> None:
    r3_gate(db)
    window = open_window(db, "root-ann", "acme", totp.now(), "outage")
    assert close_window(db, window.id, actor="root-ann") is not None
    assert close_window(db, window.id, actor="root-ann") is None, "closed already"
    assert approve(db, "root-ann")["status"] == "pending"
    assert windows(db, open_only=True) == [] and len(windows(db)) == 1


def test_a_window_ends_by_itself(db: psycopg.Connection, totp: pyotp.TOTP) -> None:
    r3_gate(db)
    window = open_window(db, "root-ann", "acme", totp.now(), "outage", minutes=1)
    db.execute("SET session_replication_role = replica")
    db.execute("UPDATE ticketpilot.break_glass SET opened_at = opened_at - interval '2 minutes', "
               "expires_at = expires_at - interval '2 minutes' WHERE id = %s", (window.id,))
    db.execute("RESET session_replication_role")
    assert active_window(db, "root-ann", "acme") is None
    assert approve(db, "root-ann")["status"] == "pending"


def test_four_eyes_still_hold_under_break_glass(db: psycopg.Connection, totp: pyotp.TOTP) -> None:
    r3_gate(db)
    db.execute("UPDATE ticketpilot.tickets SET ticket = '{\"requested_by\": \"root-ann\"}'")
    open_window(db, "root-ann", "acme", totp.now(), "outage")
    with pytest.raises(gates.ApproverNotAllowed, match="four eyes"):
        approve(db, "root-ann")


def test_wrong_reused_long_or_reasonless_requests_are_refused(db: psycopg.Connection, totp: pyotp.TOTP) -> None:
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    with pytest.raises(BreakGlassRefused, match="not valid now"):
        open_window(db, "root-ann", "acme", wrong, "outage")
    with pytest.raises(BreakGlassRefused, match="1 to 60 minutes"):
        open_window(db, "root-ann", "acme", totp.now(), "outage", minutes=61)
    with pytest.raises(BreakGlassRefused, match="needs a reason"):
        open_window(db, "root-ann", "acme", totp.now(), "  ")
    with pytest.raises(BreakGlassRefused, match="not enrolled"):
        open_window(db, "mallory", "acme", totp.now(), "outage")
    code = totp.now()
    open_window(db, "root-ann", "acme", code, "outage")
    with pytest.raises(BreakGlassRefused, match="used already"):
        open_window(db, "root-ann", "acme", code, "again")
    refused = db.execute("SELECT details->>'why' AS why FROM ticketpilot.audit_log WHERE action = "
                         "'break_glass.refused' ORDER BY id").fetchall()
    assert [r["why"] for r in refused] == ["wrong code", "code reused"]


def test_the_database_refuses_a_window_over_an_hour(db: psycopg.Connection, totp: pyotp.TOTP) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO ticketpilot.break_glass (admin, tenant_id, reason, expires_at) "
                   "VALUES ('root-ann', 'acme', 'x', now() + interval '61 minutes')")
