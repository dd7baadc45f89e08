"""The restore drill: prove a backup restores, and measure how long that takes (the recovery time, RTO).

The drill checks the dump against its manifest's checksum, restores it into a scratch database with
`pg_restore`, holds every table's row count to the manifest (read in the dump's own snapshot), walks the
restored audit chain, and drops the scratch database. The recovery time is measured from opening the backup
to a verified database. The scratch database lives on the server `admin_url` names (by default the platform's
own server); point it at another server to drill a restore onto new hardware.

A real restore is the same procedure with the database kept under a name of the operator's choosing
(`into`): it never writes over a live database, and it is only handed over once verified.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import BaseModel, ConfigDict

from include.maintenance.backup import (
    MANIFEST_SUFFIX,
    BackupError,
    pg_tool,
    read_manifest,
    row_counts,
    run_tool,
    sha256,
)
from include.store import audit


class DrillFailed(BackupError):
    """The backup did not restore to what its manifest says; `report.problems` lists each difference."""

    def __init__(self, report: DrillReport) -> None:
        super().__init__(f"restore drill of {report.backup} failed: " + "; ".join(report.problems))
        self.report = report


class DrillReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    backup: str
    scratch_database: str
    tables: int
    rows: int
    audit_rows: int
    restore_s: float
    rto_s: float
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (f"restore drill {verdict}: {self.backup}, {self.tables} tables, {self.rows} rows, "
                f"audit chain {self.audit_rows} rows, restore {self.restore_s:.2f} s, RTO {self.rto_s:.2f} s")


def drill(manifest_path: Path, admin_url: str, *, into: str | None = None) -> DrillReport:
    """Restore the backup into a scratch database on `admin_url`'s server and verify it; raises DrillFailed
    when anything differs. The scratch database is dropped either way, unless `into` names a new database to
    restore into and keep, which is kept only when verified."""
    started = time.monotonic()
    manifest = read_manifest(manifest_path)
    dump = manifest_path.with_name(manifest_path.name.removesuffix(MANIFEST_SUFFIX))
    if not dump.is_file():
        raise BackupError(f"{dump} is missing: the manifest {manifest_path.name} has no dump beside it")
    problems: list[str] = []
    if (found := sha256(dump)) != manifest.sha256:
        problems.append(f"{dump.name} does not match its manifest (sha256 {found[:12]}…, "
                        f"manifest {manifest.sha256[:12]}…): the file was altered or truncated")
        raise DrillFailed(_report(manifest.file, "", {}, 0, 0.0, started, problems))
    scratch = into or f"ticketpilot_drill_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (scratch,)).fetchone() is not None:
            raise BackupError(f"database {scratch} exists already: a restore never writes over a database")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    kept, counts, audit_rows, restore_s = False, {}, 0, 0.0
    try:
        target = make_conninfo(admin_url, dbname=scratch)
        restore_started = time.monotonic()
        try:
            run_tool([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                      f"--dbname={target}", str(dump)], "pg_restore")
        except BackupError as exc:  # the dump is as taken (checksum) but does not restore here
            problems.append(str(exc))
        restore_s = time.monotonic() - restore_started
        if not problems:
            with psycopg.connect(target) as restored:
                restored.execute("SELECT ticketpilot.audit_grant_writer()")  # --no-privileges dropped them
                restored.commit()
                counts = row_counts(restored)
                checked = audit.verify(restored)
                audit_rows = checked.total
                problems += [f"the restored audit log: {finding}" for finding in checked.findings]
            problems += _count_differences(manifest.row_counts, counts)
        kept = into is not None and not problems
    finally:
        if not kept:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    report = _report(manifest.file, scratch, counts, audit_rows, restore_s, started, problems)
    if problems:
        raise DrillFailed(report)
    return report


def _count_differences(want: dict[str, int], got: dict[str, int]) -> list[str]:
    problems = [f"{table} is missing" for table in sorted(want.keys() - got.keys())]
    problems += [f"{table} is not in the backup's manifest" for table in sorted(got.keys() - want.keys())]
    problems += [f"{table}: {got[table]} rows restored, {want[table]} backed up"
                 for table in sorted(want.keys() & got.keys()) if want[table] != got[table]]
    return problems


def _report(backup: str, scratch: str, counts: dict[str, int], audit_rows: int, restore_s: float,
            started: float, problems: list[str]) -> DrillReport:
    return DrillReport(backup=backup, scratch_database=scratch, tables=len(counts), rows=sum(counts.values()),
                       audit_rows=audit_rows, restore_s=round(restore_s, 3),
                       rto_s=round(time.monotonic() - started, 3), problems=problems)
