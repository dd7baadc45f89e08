from __future__ import annotations

import psycopg
import pytest

from include.store import audit
from include.store.db import migrate, migrations


def test_migrations_are_numbered_uniquely() -> None:
    versions = [v for v, _, _ in migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


def test_migrate_twice_applies_nothing_the_second_time(db_url: str) -> None:
    assert migrate(db_url) == []


def test_audit_chain_verifies_and_is_append_only(db: psycopg.Connection) -> None:
    with db.transaction():
        first = audit.append(db, actor="alice", action="gate.approve", subject="demo-1", details={"n": 1})
        second = audit.append(db, actor="bob", action="gate.reject", subject="demo-2", details={})
    assert first != second
    assert audit.verify(db) == 2
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("UPDATE ticketpilot.audit_log SET actor = 'mallory'")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("DELETE FROM ticketpilot.audit_log")
