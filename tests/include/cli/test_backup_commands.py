"""`ticketpilot backup` against the real PostgreSQL: take, list, drill and restore, each audited; a restore keeps
a verified copy under a new name and refuses an existing one; a damaged backup is answered with exit 2 and what
differs."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from include.store import audit
from tests.include.cli.helpers import run


def test_take_list_drill_and_restore(db: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TICKETPILOT_BACKUP_DIR", str(tmp_path))
    monkeypatch.setenv("USER", "ops-ann")
    with db.transaction():
        audit.append(db, actor="ops", action="test.action", subject="x", details={})
    assert run(capsys, "backup", "list")[1].strip() == f"no backups in {tmp_path}"

    code, out, _ = run(capsys, "backup", "take")
    assert code == 0 and "check it restores: ticketpilot backup drill" in out
    manifest = next(tmp_path.glob("*.manifest.json"))
    assert str(manifest) in run(capsys, "backup", "list")[1]

    code, out, _ = run(capsys, "backup", "drill", str(manifest))
    assert code == 0 and out.startswith("restore drill passed") and "audit chain 1 rows" in out

    into = f"tp_restored_{abs(hash(str(tmp_path))) % 10**8}"
    try:
        code, out, _ = run(capsys, "backup", "restore", str(manifest), "--into", into)
        assert code == 0 and f"restored into the new database {into}" in out
        with psycopg.connect(make_conninfo(db.info.dsn, dbname=into)) as restored:
            assert audit.verify(restored).total == 1, "the kept copy holds the backed-up chain"
        code, _, err = run(capsys, "backup", "restore", str(manifest), "--into", into)
        assert code == 2 and f"database {into} exists already" in err
    finally:
        db.execute(f'DROP DATABASE IF EXISTS "{into}" WITH (FORCE)')

    actions = db.execute("SELECT actor, action FROM ticketpilot.audit_log ORDER BY id").fetchall()
    assert [(a["actor"], a["action"]) for a in actions][1:] == [
        ("ops-ann", "maintenance.backup"), ("ops-ann", "maintenance.restore_drill"), ("ops-ann", "maintenance.restore")]


def test_a_damaged_backup_is_refused_with_what_differs(db: psycopg.Connection, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TICKETPILOT_BACKUP_DIR", str(tmp_path))
    assert run(capsys, "backup", "take")[0] == 0
    manifest = next(tmp_path.glob("*.manifest.json"))
    dump = manifest.with_name(manifest.name.removesuffix(".manifest.json"))
    dump.write_bytes(b"not a dump")
    code, _, err = run(capsys, "backup", "restore", str(manifest), "--into", "tp_never_kept")
    assert code == 2 and "restore drill FAILED" in err and "altered or truncated" in err
    assert db.execute("SELECT 1 FROM pg_database WHERE datname = 'tp_never_kept'").fetchone() is None
    dump.unlink()
    code, _, err = run(capsys, "backup", "drill", str(manifest))
    assert code == 2 and "is missing" in err
