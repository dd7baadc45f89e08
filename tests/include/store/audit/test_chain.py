"""Appending: one chain per tenant, one round trip, INSERT-only writer, no UPDATE/DELETE/TRUNCATE."""

from __future__ import annotations

import threading

import psycopg
import pytest

from include.store import audit
from include.store.db import connect


def chain_rows(db: psycopg.Connection, chain: str) -> list[dict]:
    return db.execute("SELECT id, seq, prev_hash, hash, actor FROM ticketpilot.audit_log WHERE chain = %s "
                      "ORDER BY seq", (chain,)).fetchall()


def test_each_tenant_has_its_own_chain_and_platform_actions_theirs(db: psycopg.Connection) -> None:
    a1 = audit.append(db, actor="alice", action="gate.approve", subject="alpha-1", details={"n": 1}, tenant="alpha")
    audit.append(db, actor="bob", action="gate.reject", subject="beta-1", details={}, tenant="beta")
    a2 = audit.append(db, actor="carol", action="pr.merged", subject="alpha-1", details={}, tenant="alpha")
    audit.append(db, actor="ops", action="maintenance.backup", subject="dump", details={})
    alpha = chain_rows(db, "alpha")
    assert [(r["seq"], r["hash"]) for r in alpha] == [(1, a1), (2, a2)]
    assert alpha[0]["prev_hash"] == audit.GENESIS and alpha[1]["prev_hash"] == a1
    assert [r["seq"] for r in chain_rows(db, "beta")] == [1]
    assert [r["actor"] for r in chain_rows(db, audit.PLATFORM_CHAIN)] == ["ops"]
    result = audit.verify(db)
    assert result.ok and result.rows == {"_platform": 1, "alpha": 2, "beta": 1}


def test_a_ticket_row_goes_to_the_tickets_tenant(db: psycopg.Connection) -> None:
    db.execute("INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, default_repo) "
               "VALUES ('gamma', 'hook', 'x', 'app')")
    db.execute("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, ticket) "
               "VALUES ('gamma-7', 'gamma', 7, 1, 'ticket__gamma__7', '{}')")
    audit.append_for_ticket(db, "gamma-7", actor="agent-dev", action="sandbox.isolation", details={"step": "dev"})
    audit.append_for_ticket(db, "nobody-1", actor="x", action="y", details={})
    assert [r["actor"] for r in chain_rows(db, "gamma")] == ["agent-dev"]
    assert [r["actor"] for r in chain_rows(db, audit.PLATFORM_CHAIN)] == ["x"]


def test_what_python_recomputes_matches_what_sql_hashed(db: psycopg.Connection) -> None:
    """Fields that would confuse a naive join (separators, newlines, non-ASCII, nested JSON) verify."""
    audit.append(db, actor="a:1", action="x\ny", subject="Zoë ✓", tenant="alpha",
                 details={"b": [1, 2.5, None], "a": {"z": "ü", "k": True}, "long key first": "v"})
    audit.append(db, actor="", action="5:x", subject="", details={}, tenant="alpha")
    assert audit.verify(db, tenant="alpha").ok


def test_update_delete_and_truncate_are_refused(db: psycopg.Connection) -> None:
    audit.append(db, actor="alice", action="a", subject="s", details={}, tenant="alpha")
    for statement in ("UPDATE ticketpilot.audit_log SET actor = 'mallory'", "DELETE FROM ticketpilot.audit_log",
                      "TRUNCATE ticketpilot.audit_log"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            db.execute(statement)
    assert audit.verify(db).total == 1


def test_the_writer_role_may_only_insert(db: psycopg.Connection) -> None:
    privileges = {p: db.execute("SELECT has_table_privilege('ticketpilot_audit_writer', 'ticketpilot.audit_log', "
                                "%s) AS ok", (p,)).fetchone()["ok"]
                  for p in ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE")}
    assert privileges == {"INSERT": True, "SELECT": False, "UPDATE": False, "DELETE": False, "TRUNCATE": False}
    owner = db.execute("SELECT pg_get_userbyid(proowner) AS owner FROM pg_proc "
                       "WHERE proname = 'audit_append'").fetchone()["owner"]
    assert owner == "ticketpilot_audit_writer"


def test_an_application_role_appends_through_the_function_only(db: psycopg.Connection) -> None:
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tp_app_test') THEN "
               "CREATE ROLE tp_app_test; END IF; END $$")
    db.execute("GRANT USAGE ON SCHEMA ticketpilot TO tp_app_test")
    db.execute("GRANT SELECT ON ticketpilot.tickets TO tp_app_test")
    db.execute("SET ROLE tp_app_test")
    try:
        audit.append(db, actor="app", action="a", subject="s", details={}, tenant="alpha")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("INSERT INTO ticketpilot.audit_log (chain, seq, actor, action, subject, prev_hash, hash) "
                       "VALUES ('alpha', 2, 'm', 'a', 's', 'x', 'y')")
    finally:
        db.execute("RESET ROLE")
    assert audit.verify(db).rows == {"alpha": 1}


def test_concurrent_appends_to_one_chain_stay_linked(db_url: str, db: psycopg.Connection) -> None:
    def writer(n: int) -> None:
        with connect(db_url) as conn:
            for i in range(15):
                with conn.transaction():
                    audit.append(conn, actor=f"w{n}", action="step", subject=str(i), details={"i": i},
                                 tenant="alpha")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.verify(db)
    assert result.ok and result.rows == {"alpha": 60}


def test_one_tenants_open_transaction_does_not_hold_up_another(db_url: str, db: psycopg.Connection) -> None:
    with connect(db_url) as holder, holder.transaction():
        audit.append(holder, actor="slow", action="a", subject="s", details={}, tenant="alpha")
        with connect(db_url, autocommit=True) as other:
            other.execute("SET lock_timeout = '2s'")
            audit.append(other, actor="quick", action="a", subject="s", details={}, tenant="beta")
            other.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                audit.append(other, actor="queued", action="a", subject="s", details={}, tenant="alpha")
    assert audit.verify(db).rows == {"alpha": 1, "beta": 1}
