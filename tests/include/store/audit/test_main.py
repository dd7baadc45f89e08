"""`python -m include.store.audit`: verify exits 0 or 1 with the finding by row id; anchor writes the heads."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from include.store import audit
from include.store.audit.__main__ import main


def test_anchor_then_verify_then_find_an_alteration(db: psycopg.Connection, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(2):
        audit.append(db, actor="ops", action="step", subject=str(i), details={}, tenant="alpha")
    audit.append(db, actor="ops", action="step", subject="b", details={}, tenant="beta")
    assert main(["anchor", "--anchors", str(tmp_path)]) == 0
    assert "2 new anchor(s)" in capsys.readouterr().out
    assert main(["verify", "--anchors", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == ["alpha: 2 row(s)", "beta: 1 row(s)", "audit log verified"]
    first = db.execute("SELECT min(id) AS id FROM ticketpilot.audit_log").fetchone()["id"]
    db.execute("SET session_replication_role = replica")
    db.execute("UPDATE ticketpilot.audit_log SET actor = 'mallory' WHERE id = %s", (first,))
    db.execute("RESET session_replication_role")
    assert main(["verify", "--tenant", "beta", "--anchors", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["verify", "--anchors", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"FOUND alpha: altered at seq 1 (row id {first}): its fields no longer match its hash" in out
    assert out.endswith("1 chain(s) tampered with\n")
