"""`ticketpilot backup take|list|drill|restore`: the nightly DAG's backup and drill, by hand (before an upgrade,
after an incident), and the restore itself, which is a drill whose verified database is kept under a new name.
Each is written to the audit log, as the DAG's runs are."""

from __future__ import annotations

from pathlib import Path

from include.cli.commands import CliError, _actor
from include.maintenance.backup import BackupError, backups, default_dir, default_keep, read_manifest, take_backup
from include.maintenance.restore_drill import DrillFailed, DrillReport, drill
from include.settings import get_settings
from include.store import audit
from include.store.db import connect


def backup_take(folder: Path | None) -> str:
    folder = folder or default_dir()
    try:
        path = take_backup(get_settings().require_db(), folder, keep=default_keep())
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    manifest = read_manifest(path)
    _audit("maintenance.backup", manifest.file, {"bytes": manifest.bytes, "sha256": manifest.sha256})
    return (f"{path.parent / manifest.file}: {manifest.bytes} bytes, {len(manifest.row_counts)} tables, "
            f"{sum(manifest.row_counts.values())} rows in {manifest.duration_s:.2f} s\n"
            f"  manifest {path}\n  check it restores: ticketpilot backup drill {path}")


def backup_list(folder: Path | None) -> str:
    folder = folder or default_dir()
    found = backups(folder) if folder.is_dir() else []
    if not found:
        return f"no backups in {folder}"
    lines = [f"{'TAKEN (UTC)':<20}  {'SIZE':>10}  {'ROWS':>9}  MANIFEST"]
    for path in reversed(found):
        m = read_manifest(path)
        lines.append(f"{m.taken_at:%Y-%m-%d %H:%M:%S}  {m.bytes:>10}  {sum(m.row_counts.values()):>9}  {path}")
    return "\n".join(lines)


def backup_drill(manifest: Path) -> str:
    return _restore(manifest, into=None).line()


def backup_restore(manifest: Path, into: str) -> str:
    report = _restore(manifest, into=into)
    return (f"{report.line()}\n  restored into the new database {into} on the same server; the platform still uses"
            f" its own. To switch: stop the platform, point TICKETPILOT_DB_URL at database {into}, start it")


def _restore(manifest: Path, into: str | None) -> DrillReport:
    try:
        report = drill(manifest, get_settings().require_db(), into=into)
    except DrillFailed as failed:
        _audit("maintenance.restore_drill", failed.report.backup, failed.report.model_dump())
        raise CliError("\n  ".join([failed.report.line(), *failed.report.problems])) from failed
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    _audit("maintenance.restore" if into else "maintenance.restore_drill", report.backup, report.model_dump())
    return report


def _audit(action: str, subject: str, details: dict[str, object]) -> None:
    with connect() as conn, conn.transaction():
        audit.append(conn, actor=_actor(), action=action, subject=subject, details=details)
