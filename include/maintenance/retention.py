"""Retention per data class: what the platform keeps, for how long, per tenant where the data is the tenant's.

| class | what | where | default |
|---|---|---|---|
| transcripts | agents' loop transcripts (redacted) | `$TICKETPILOT_HOME/transcripts/<tenant>/<ticket>/` | 90 d |
| model_responses | cached model answers | each tenant's ledger `response_cache` | 30 d |
| deliveries | hook delivery ids kept to drop redeliveries | `ticketpilot.deliveries` | 90 d |
| task_logs | Airflow task logs | Airflow's `base_log_folder` | 30 d |
| sandbox_venvs | repositories' cached test environments (sandbox TTL) | `$TICKETPILOT_HOME/venvs/` | 14 d unused |

Age is the newest write (a ticket's transcripts go together, by their newest file), or for a sandbox
environment its last use. A tenant's own days (`ticketpilot.retention_overrides`, from the Team Directory)
replace the default for its classes. The cost ledger and the audit log are records, not data to expire: they
are never purged here. A purge is audited; a dry run only counts.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import psycopg
from psycopg import sql
from pydantic import BaseModel

from include.sandbox.venv import MARKER
from include.store import audit


class DataClass(StrEnum):
    TRANSCRIPTS = "transcripts"
    MODEL_RESPONSES = "model_responses"
    DELIVERIES = "deliveries"
    TASK_LOGS = "task_logs"
    SANDBOX_VENVS = "sandbox_venvs"


TENANT_CLASSES = (DataClass.TRANSCRIPTS, DataClass.MODEL_RESPONSES, DataClass.DELIVERIES)
DEFAULT_DAYS = {DataClass.TRANSCRIPTS: 90, DataClass.MODEL_RESPONSES: 30, DataClass.DELIVERIES: 90,
                DataClass.TASK_LOGS: 30, DataClass.SANDBOX_VENVS: 14}


class RetentionReport(BaseModel):
    removed: dict[str, int]
    """`class` or `class:tenant` -> items removed (or, in a dry run, that would be)."""
    dry_run: bool

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        return [f"{key}: {verb} {n}" for key, n in sorted(self.removed.items()) if n] or ["nothing past retention"]


def tenant_days(conn: psycopg.Connection, tenant: str) -> dict[DataClass, int]:
    rows = conn.execute("SELECT data_class, days FROM ticketpilot.retention_overrides WHERE tenant_id = %s",
                        (tenant,)).fetchall()
    return {c: DEFAULT_DAYS[c] for c in TENANT_CLASSES} | {DataClass(r["data_class"]): r["days"] for r in rows}


def set_days(conn: psycopg.Connection, tenant: str, data_class: DataClass, days: int | None) -> bool:
    """The tenant's own days for a class (None: back to the default); whether anything changed."""
    if data_class not in TENANT_CLASSES:
        raise ValueError(f"{data_class} is the platform's, not a tenant's: its days are not set per tenant")
    if days is None:
        return conn.execute("DELETE FROM ticketpilot.retention_overrides WHERE tenant_id = %s AND data_class = %s",
                            (tenant, data_class.value)).rowcount > 0
    return conn.execute(
        "INSERT INTO ticketpilot.retention_overrides (tenant_id, data_class, days) VALUES (%s, %s, %s) "
        "ON CONFLICT (tenant_id, data_class) DO UPDATE SET days = EXCLUDED.days "
        "WHERE retention_overrides.days IS DISTINCT FROM EXCLUDED.days", (tenant, data_class.value, days)
    ).rowcount > 0


def purge(conn: psycopg.Connection, *, home: Path, task_logs: Path | None, actor: str,
          now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    now = now or datetime.now(UTC)
    removed: dict[str, int] = {}
    tenants = [r["tenant_id"] for r in conn.execute("SELECT tenant_id FROM ticketpilot.tenants ORDER BY 1")]
    ledgers = {r["tenant_id"]: r["schema_name"] for r in conn.execute(
        "SELECT tenant_id, schema_name FROM ticketpilot.tenant_schemas")}
    for tenant in tenants:
        days = tenant_days(conn, tenant)
        cutoff = {c: now - timedelta(days=d) for c, d in days.items()}
        removed[f"transcripts:{tenant}"] = _transcripts(home / "transcripts" / tenant, cutoff[DataClass.TRANSCRIPTS],
                                                        dry_run)
        if tenant in ledgers:
            removed[f"model_responses:{tenant}"] = _rows(
                conn, sql.SQL("{}.response_cache WHERE created_at < %s").format(sql.Identifier(ledgers[tenant])),
                (cutoff[DataClass.MODEL_RESPONSES],), dry_run)
        removed[f"deliveries:{tenant}"] = _rows(
            conn, sql.SQL("ticketpilot.deliveries WHERE tenant_id = %s AND received_at < %s"),
            (tenant, cutoff[DataClass.DELIVERIES]), dry_run)
    platform_cutoff = {c: now - timedelta(days=DEFAULT_DAYS[c]) for c in (DataClass.TASK_LOGS, DataClass.SANDBOX_VENVS)}
    if task_logs is not None:
        removed[DataClass.TASK_LOGS.value] = _old_files(task_logs, platform_cutoff[DataClass.TASK_LOGS], dry_run)
    removed[DataClass.SANDBOX_VENVS.value] = _venvs(home / "venvs", platform_cutoff[DataClass.SANDBOX_VENVS], dry_run)
    report = RetentionReport(removed={k: v for k, v in removed.items() if v}, dry_run=dry_run)
    if report.removed and not dry_run:
        with conn.transaction():
            audit.append(conn, actor=actor, action="maintenance.retention", subject="platform",
                         details={"removed": report.removed})
    return report


def _rows(conn: psycopg.Connection, where: sql.Composable, params: tuple[object, ...], dry_run: bool) -> int:
    verb = sql.SQL("SELECT count(*) AS n FROM " if dry_run else "DELETE FROM ")
    cur = conn.execute(sql.Composed([verb, where]), params)
    return cur.fetchone()["n"] if dry_run else cur.rowcount


def _transcripts(tenant_dir: Path, cutoff: datetime, dry_run: bool) -> int:
    """Tickets whose newest transcript is older than the cutoff: their folder goes as a whole."""
    count = 0
    for ticket in sorted(p for p in tenant_dir.glob("*") if p.is_dir()) if tenant_dir.is_dir() else []:
        newest = max((f.stat().st_mtime for f in _files(ticket)), default=ticket.stat().st_mtime)
        if newest < cutoff.timestamp():
            count += 1
            if not dry_run:
                shutil.rmtree(ticket, ignore_errors=True)
    return count


def _old_files(root: Path, cutoff: datetime, dry_run: bool) -> int:
    count = 0
    for path in list(_files(root)) if root.is_dir() else []:
        if path.stat().st_mtime < cutoff.timestamp():
            count += 1
            if not dry_run:
                path.unlink(missing_ok=True)
    if not dry_run and root.is_dir():  # folders left empty, deepest first, never the root itself
        for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
    return count


def _venvs(root: Path, cutoff: datetime, dry_run: bool) -> int:
    """Cached environments unused since the cutoff (a reuse touches the marker). Each is checked again under
    its build lock and renamed before it is deleted, so a step never finds half of one."""
    count = 0
    for venv in sorted(p for p in root.glob("*") if p.is_dir() and (p / MARKER).is_file()) if root.is_dir() else []:
        if (venv / MARKER).stat().st_mtime >= cutoff.timestamp():
            continue
        count += 1
        if dry_run:
            continue
        with (root / f"{venv.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if (venv / MARKER).is_file() and (venv / MARKER).stat().st_mtime < cutoff.timestamp():
                    trash = root / f".expired-{venv.name}-{int(time.time())}"
                    os.replace(venv, trash)
                    shutil.rmtree(trash, ignore_errors=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return count


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())
