"""Backups and the restore drill against the real PostgreSQL, with the real pg_dump and pg_restore: a backup
restores to exactly the rows its manifest counted (platform tables and a tenant's ledger schema) with an intact
audit chain, and the scratch database is gone afterwards; an altered dump, a broken audit chain and a dump that
lost rows each fail the drill with a reason naming what differs; old and unfinished backups are pruned."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from include.maintenance.backup import BackupError, backups, prune, read_manifest, sha256, take_backup
from include.maintenance.restore_drill import DrillFailed, drill
from include.store import audit
from include.store.tenants import create_tenant
from model_serving.router import ledger


@pytest.fixture
def seeded(db: psycopg.Connection) -> psycopg.Connection:
    create_tenant(db, "drill-co", "drill-co", "s3cret-s3cret-s3cret", "app", ["alice"])
    ledger.ensure_tenant_schema(db, "drill-co")
    for i in range(5):
        with db.transaction():
            audit.append(db, actor="ops", action="test.action", subject=f"drill-co-{i}", details={"i": i})
    return db


def scratch_databases(db: psycopg.Connection) -> list[str]:
    rows = db.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ticketpilot_drill_%'").fetchall()
    return [r["datname"] for r in rows]


def test_a_backup_restores_to_exactly_what_its_manifest_counted(seeded: psycopg.Connection, db_url: str,
                                                                 tmp_path: Path) -> None:
    path = take_backup(db_url, tmp_path)
    manifest = read_manifest(path)
    assert manifest.row_counts["ticketpilot.audit_log"] == 5
    assert manifest.row_counts["ticketpilot.tenants"] == 1
    assert any(table.startswith("tenant_drill_co.") for table in manifest.row_counts), "tenant ledgers are backed up"
    assert (tmp_path / manifest.file).stat().st_size == manifest.bytes

    with seeded.transaction():  # the live database moves on; the backup does not
        audit.append(seeded, actor="ops", action="test.after", subject="later", details={})

    report = drill(path, db_url)
    assert report.passed and report.audit_rows == 5
    assert report.tables == len(manifest.row_counts) and report.rows == sum(manifest.row_counts.values())
    assert 0 < report.restore_s <= report.rto_s
    assert "restore drill passed" in report.line()
    assert scratch_databases(seeded) == []


def test_an_altered_dump_fails_the_drill_before_anything_is_restored(seeded: psycopg.Connection, db_url: str,
                                                                     tmp_path: Path) -> None:
    path = take_backup(db_url, tmp_path)
    dump = tmp_path / read_manifest(path).file
    dump.write_bytes(dump.read_bytes()[:-100])
    with pytest.raises(DrillFailed, match="does not match its manifest .* altered or truncated"):
        drill(path, db_url)
    assert scratch_databases(seeded) == []


def test_a_broken_audit_chain_in_the_backup_fails_the_drill_at_its_row(seeded: psycopg.Connection, db_url: str,
                                                                       tmp_path: Path) -> None:
    row = seeded.execute("SELECT id FROM ticketpilot.audit_log ORDER BY id OFFSET 2 LIMIT 1").fetchone()["id"]
    seeded.execute("SET session_replication_role = replica")  # a superuser past the append-only trigger
    seeded.execute("UPDATE ticketpilot.audit_log SET details = '{\"i\": 99}' WHERE id = %s", (row,))
    seeded.execute("RESET session_replication_role")
    path = take_backup(db_url, tmp_path)
    expected = f"the restored audit log: _platform: altered at seq 3 \\(row id {row}\\)"
    with pytest.raises(DrillFailed, match=expected) as failed:
        drill(path, db_url)
    assert failed.value.report.rows > 0
    assert scratch_databases(seeded) == []


def test_a_dump_that_lost_rows_fails_the_drill_naming_the_table(seeded: psycopg.Connection, db_url: str,
                                                                tmp_path: Path) -> None:
    path = take_backup(db_url, tmp_path)
    claimed = json.loads(path.read_text())
    claimed["row_counts"]["ticketpilot.audit_log"] = 6  # as if a row had been written but never dumped
    path.write_text(json.dumps(claimed))
    with pytest.raises(DrillFailed, match=r"ticketpilot\.audit_log: 5 rows restored, 6 backed up"):
        drill(path, db_url)


def test_only_the_newest_backups_are_kept_and_unfinished_ones_removed(seeded: psycopg.Connection, db_url: str,
                                                                      tmp_path: Path) -> None:
    start = datetime(2026, 12, 1, 3, 15, tzinfo=UTC)
    taken = [take_backup(db_url, tmp_path, keep=2, now=start + timedelta(days=d)) for d in range(3)]
    assert backups(tmp_path) == taken[1:]
    stray = tmp_path / "ticketpilot-20261205T031500000000Z.dump.partial"
    stray.write_bytes(b"half a dump")
    assert prune(tmp_path, 2) == [stray.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in taken[1:]] + [read_manifest(p).file for p in taken[1:]])


def test_a_manifest_that_is_not_one_is_refused(tmp_path: Path, db_url: str) -> None:
    bogus = tmp_path / "ticketpilot-x.dump.manifest.json"
    bogus.write_text("{}")
    with pytest.raises(BackupError, match="not a readable backup manifest"):
        drill(bogus, db_url)
    with pytest.raises(BackupError, match="keep must be at least 1"):
        take_backup(db_url, tmp_path, keep=0)


def test_a_dump_that_does_not_restore_fails_the_drill_with_pg_restore_s_reason(
        seeded: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    path = take_backup(db_url, tmp_path)
    dump = tmp_path / read_manifest(path).file
    dump.write_bytes(b"PGDMP but not really")
    claimed = json.loads(path.read_text())
    claimed["sha256"] = sha256(dump)  # as taken, so the checksum passes: pg_restore itself must refuse it
    path.write_text(json.dumps(claimed))
    with pytest.raises(DrillFailed, match="pg_restore failed .*") as failed:
        drill(path, db_url, into="tp_never_kept_either")
    assert failed.value.report.rows == 0
    assert scratch_databases(seeded) == []
    assert seeded.execute("SELECT 1 FROM pg_database WHERE datname = 'tp_never_kept_either'").fetchone() is None
