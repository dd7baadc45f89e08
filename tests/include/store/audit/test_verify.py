"""Tampering, as a superuser past the triggers would do it: each kind is found, by row id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest

from include.store import audit
from include.store.audit.anchors import Anchor


@contextmanager
def past_the_triggers(db: psycopg.Connection) -> Iterator[None]:
    db.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        db.execute("RESET session_replication_role")


@pytest.fixture
def ids(db: psycopg.Connection) -> list[int]:
    """Five rows in tenant alpha's chain, one in beta's; the ids of alpha's, in order."""
    for i in range(5):
        audit.append(db, actor="alice", action="step", subject=f"alpha-{i}", details={"i": i}, tenant="alpha")
    audit.append(db, actor="bob", action="step", subject="beta-1", details={}, tenant="beta")
    return [r["id"] for r in db.execute("SELECT id FROM ticketpilot.audit_log WHERE chain = 'alpha' ORDER BY seq")]


def head(db: psycopg.Connection, chain: str) -> Anchor:
    row = db.execute("SELECT seq, hash, id FROM ticketpilot.audit_log WHERE chain = %s ORDER BY seq DESC LIMIT 1",
                     (chain,)).fetchone()
    return Anchor(chain=chain, seq=row["seq"], hash=row["hash"], row_id=row["id"], written_at=datetime.now(UTC))


def only(result: audit.Verification) -> audit.Finding:
    [finding] = result.findings
    return finding


def test_an_untouched_log_verifies(db: psycopg.Connection, ids: list[int]) -> None:
    result = audit.verify(db, anchors={"alpha": head(db, "alpha")})
    assert result.ok and result.rows == {"alpha": 5, "beta": 1}


def test_an_updated_row_is_found_as_altered(db: psycopg.Connection, ids: list[int]) -> None:
    with past_the_triggers(db):
        db.execute("UPDATE ticketpilot.audit_log SET details = '{\"i\": 99}' WHERE id = %s", (ids[2],))
    finding = only(audit.verify(db))
    assert (finding.chain, finding.kind, finding.row_id, finding.seq) == ("alpha", "altered", ids[2], 3)
    assert audit.verify(db, tenant="beta").ok, "beta's chain is not alpha's"


def test_a_row_deleted_in_the_middle_is_found_with_its_neighbours(db: psycopg.Connection, ids: list[int]) -> None:
    with past_the_triggers(db):
        db.execute("DELETE FROM ticketpilot.audit_log WHERE id = %s", (ids[1],))
    finding = only(audit.verify(db, tenant="alpha"))
    assert (finding.kind, finding.seq, finding.row_id) == ("deleted", 2, ids[2])
    assert finding.detail == f"seq 2 missing: after id {ids[0]}, before id {ids[2]}"


def test_rows_truncated_at_the_end_are_found_only_against_an_anchor(db: psycopg.Connection,
                                                                    ids: list[int]) -> None:
    anchor = head(db, "alpha")
    with past_the_triggers(db):
        db.execute("DELETE FROM ticketpilot.audit_log WHERE id = ANY(%s)", (ids[3:],))
    assert audit.verify(db).ok, "a shorter chain is consistent in itself"
    finding = only(audit.verify(db, anchors={"alpha": anchor}))
    assert (finding.kind, finding.seq, finding.row_id) == ("deleted", 5, ids[4])
    assert "holds the chain to seq 5" in finding.detail and "the table holds 3 row(s)" in finding.detail


def test_a_whole_chain_deleted_is_found_against_its_anchor(db: psycopg.Connection, ids: list[int]) -> None:
    anchor = head(db, "alpha")
    with past_the_triggers(db):
        db.execute("DELETE FROM ticketpilot.audit_log WHERE chain = 'alpha'")
    finding = only(audit.verify(db, anchors={"alpha": anchor}))
    assert (finding.chain, finding.kind, finding.row_id) == ("alpha", "deleted", ids[4])


def test_a_rewritten_chain_is_found_against_its_anchor(db: psycopg.Connection, ids: list[int]) -> None:
    """Delete the tail and append fresh rows: consistent, same length, different head."""
    anchor = head(db, "alpha")
    with past_the_triggers(db):
        db.execute("DELETE FROM ticketpilot.audit_log WHERE id = ANY(%s)", (ids[3:],))
    for i in (3, 4):
        audit.append(db, actor="mallory", action="step", subject=f"alpha-{i}", details={"i": i}, tenant="alpha")
    assert audit.verify(db).ok
    finding = only(audit.verify(db, anchors={"alpha": anchor}))
    assert (finding.kind, finding.seq) == ("altered", 5) and "rewritten" in finding.detail


def test_a_row_inserted_in_the_middle_is_found_by_its_id(db: psycopg.Connection, ids: list[int]) -> None:
    """The forger renumbers the rows after the spot and inserts a row whose hash links correctly."""
    with past_the_triggers(db):
        db.execute("UPDATE ticketpilot.audit_log SET seq = seq + 100 WHERE chain = 'alpha' AND seq >= 3")
        db.execute("UPDATE ticketpilot.audit_log SET seq = seq - 99 WHERE chain = 'alpha' AND seq >= 100")
        prev = db.execute("SELECT hash FROM ticketpilot.audit_log WHERE id = %s", (ids[1],)).fetchone()["hash"]
        forged = db.execute(
            "INSERT INTO ticketpilot.audit_log (chain, seq, at, actor, action, subject, details, prev_hash, hash) "
            "SELECT 'alpha', 3, t, 'mallory', 'gate.approve', 'alpha-9', '{}', %(prev)s, "
            "ticketpilot.audit_digest('alpha', 3, t, 'mallory', 'gate.approve', 'alpha-9', '{}', %(prev)s) "
            "FROM (SELECT clock_timestamp() AS t) n RETURNING id", {"prev": prev}).fetchone()["id"]
    finding = only(audit.verify(db))
    assert (finding.kind, finding.row_id, finding.seq) == ("inserted", forged, 3)


def test_a_forged_row_appended_by_hand_does_not_link(db: psycopg.Connection, ids: list[int]) -> None:
    with past_the_triggers(db):
        forged = db.execute(
            "INSERT INTO ticketpilot.audit_log (chain, seq, actor, action, subject, details, prev_hash, hash) "
            "VALUES ('alpha', 6, 'mallory', 'pr.merged', 'alpha-1', '{}', %s, %s) RETURNING id",
            ("f" * 64, "e" * 64)).fetchone()["id"]
    finding = only(audit.verify(db))
    assert (finding.kind, finding.row_id, finding.seq) == ("inserted", forged, 6)
