"""Backups of the platform database with `pg_dump`, each with a manifest of what it holds.

The row counts in the manifest are read in the very snapshot the dump is taken from (`pg_export_snapshot`
handed to `pg_dump --snapshot`), so a restore drill can hold the restored database to exact numbers while
tickets keep arriving. A dump is written under a `.partial` name and renamed when complete, and its manifest
is written last: a crash mid-backup never leaves something that looks like a backup. Only the newest `keep`
complete backups are kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import IsolationLevel, sql
from pydantic import BaseModel, ConfigDict, Field

MANIFEST_SUFFIX = ".manifest.json"
DUMP_TIMEOUT_S = 3600
DEFAULT_KEEP = 7


class BackupError(RuntimeError):
    """A backup could not be taken or read; the message says what to fix."""


class BackupManifest(BaseModel):
    """What one dump holds, written beside it as `<dump>.manifest.json`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(description="The dump's file name, in the manifest's folder.")
    sha256: str
    bytes: int
    taken_at: datetime
    duration_s: float
    database: str
    server_version: str
    row_counts: dict[str, int] = Field(description="schema.table -> rows, read in the dump's own snapshot.")


def default_dir() -> Path:
    """$TICKETPILOT_BACKUP_DIR, else `backups` under the platform's home."""
    from include.settings import get_settings

    return Path(os.environ.get("TICKETPILOT_BACKUP_DIR") or get_settings().home / "backups")


def default_keep() -> int:
    return int(os.environ.get("TICKETPILOT_BACKUP_KEEP", str(DEFAULT_KEEP)))


def pg_tool(name: str) -> str:
    """`pg_dump`, `pg_restore`: from $TICKETPILOT_PG_BIN, else the PostgreSQL that pgserver installs (so the
    embedded default needs nothing on the machine), else PATH. A dump tool must be at least the server's major
    version; pg_dump says so itself when it is not."""
    folders = [os.environ.get("TICKETPILOT_PG_BIN", "")]
    try:
        import pgserver

        folders.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin"))
    except ImportError:  # a deployment on a managed server may not install pgserver
        pass
    for folder in filter(None, folders):
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install PostgreSQL's client tools or set TICKETPILOT_PG_BIN")
    return found


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows in every table of every schema but PostgreSQL's own (the platform's and each tenant's ledger)."""
    tables = conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%' "
        "ORDER BY 1, 2").fetchall()
    counts = {}
    for schema, table in (_pair(t) for t in tables):
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[f"{schema}.{table}"] = _first(conn.execute(query).fetchone())
    return counts


def take_backup(db_url: str, dest: Path, *, keep: int = DEFAULT_KEEP, now: datetime | None = None) -> Path:
    """Dump the database into `dest`; returns the manifest's path. Older backups beyond `keep` are removed."""
    if keep < 1:
        raise BackupError(f"keep must be at least 1, not {keep}")
    dest.mkdir(parents=True, exist_ok=True)
    taken_at = now or datetime.now(UTC)
    dump = dest / f"ticketpilot-{taken_at:%Y%m%dT%H%M%S%fZ}.dump"
    partial = dump.with_name(dump.name + ".partial")
    started = time.monotonic()
    with psycopg.connect(db_url) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = _first(conn.execute("SELECT pg_export_snapshot()").fetchone())
        counts = row_counts(conn)
        version = _first(conn.execute("SHOW server_version").fetchone())
        database = conn.info.dbname
        # the exporting transaction stays open until pg_dump has imported the snapshot and finished
        run_tool([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
              f"--file={partial}", f"--dbname={db_url}"], "pg_dump")
    partial.replace(dump)
    manifest = BackupManifest(file=dump.name, sha256=sha256(dump), bytes=dump.stat().st_size, taken_at=taken_at,
                              duration_s=round(time.monotonic() - started, 3), database=database,
                              server_version=version, row_counts=counts)
    path = dest / (dump.name + MANIFEST_SUFFIX)
    scratch = path.with_name(path.name + ".partial")
    scratch.write_text(manifest.model_dump_json(indent=2))
    scratch.replace(path)
    prune(dest, keep)
    return path


def backups(dest: Path) -> list[Path]:
    """Complete backups' manifests in `dest`, oldest first (their names sort by time)."""
    return sorted(dest.glob(f"ticketpilot-*.dump{MANIFEST_SUFFIX}"))


def read_manifest(path: Path) -> BackupManifest:
    try:
        return BackupManifest.model_validate_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} is not a readable backup manifest: {exc}") from exc


def prune(dest: Path, keep: int) -> list[str]:
    """Remove all but the newest `keep` backups, and dumps that never completed; returns the names removed."""
    removed = []
    for manifest in backups(dest)[:-keep]:
        dump = manifest.with_name(manifest.name.removesuffix(MANIFEST_SUFFIX))
        dump.unlink(missing_ok=True)
        manifest.unlink()
        removed.append(dump.name)
    for stray in dest.glob("ticketpilot-*.partial"):
        stray.unlink()
        removed.append(stray.name)
    return removed


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_tool(argv: list[str], what: str) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True, timeout=DUMP_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{what} failed (exit {exc.returncode}): {exc.stderr.strip()[-2000:]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{what} did not finish within {DUMP_TIMEOUT_S} s") from exc


def _pair(row: object) -> tuple[str, str]:
    return (row["table_schema"], row["table_name"]) if isinstance(row, dict) else (row[0], row[1])  # type: ignore[index]


def _first(row: object) -> object:
    if row is None:
        raise BackupError("the database returned no row")
    return next(iter(row.values())) if isinstance(row, dict) else row[0]  # type: ignore[index]
