"""
### Backup and restore drill
Every night at 03:15 UTC: a `pg_dump` of the platform database (tickets, gates, audit log, every tenant's
ledger), then a **restore drill** that restores it into a scratch database, holds every table's row count to
the backup's manifest, walks the audit chain, drops the scratch database and records the measured recovery
time (RTO). A backup that does not restore fails this DAG, with each difference in the task log: a backup is
only a backup once it has been restored.

**Where**: the Airflow Variable `ticketpilot_backup_dir`, else `TICKETPILOT_BACKUP_DIR`, else
`$TICKETPILOT_HOME/backups`; the newest `TICKETPILOT_BACKUP_KEEP` (default 7) are kept. In production this is a
volume backed up off the cluster, or a folder an object-store sync picks up.
**Drill server**: the scratch database is created where `TICKETPILOT_DRILL_DB_URL` points (a role that may
create databases), else on the platform's own server. Both steps are in the audit log.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

BACKUP_DIR_VARIABLE = "ticketpilot_backup_dir"


@dag(
    dag_id="ticketpilot__backup",
    dag_display_name="Ticketpilot: backup and restore drill",
    description="pg_dump of the platform database, restored into a scratch database and verified every night",
    # as the evals DAG: no start date and a zero buffer, so deploying never starts the night that already passed
    schedule=CronTriggerTimetable("15 3 * * *", timezone="UTC", run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    tags=["ticketpilot", "maintenance"],
    doc_md=__doc__,
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 1, "retry_delay": timedelta(minutes=10),
                  "execution_timeout": timedelta(hours=2)},
)
def backup() -> None:
    @task
    def dump() -> str:
        from pathlib import Path

        from airflow.sdk import Variable

        from include.maintenance.backup import default_dir, default_keep, read_manifest, take_backup
        from include.settings import get_settings
        from include.store import audit
        from include.store.db import connect

        configured = Variable.get(BACKUP_DIR_VARIABLE, default=None)
        folder = Path(configured) if configured else default_dir()
        path = take_backup(get_settings().require_db(), folder, keep=default_keep())
        manifest = read_manifest(path)
        with connect() as conn, conn.transaction():
            audit.append(conn, actor="ticketpilot__backup", action="maintenance.backup", subject=manifest.file,
                         details={"bytes": manifest.bytes, "sha256": manifest.sha256,
                                  "tables": len(manifest.row_counts), "rows": sum(manifest.row_counts.values()),
                                  "duration_s": manifest.duration_s})
        print(f"backup {path.parent / manifest.file}: {manifest.bytes} bytes, {len(manifest.row_counts)} tables, "
              f"{sum(manifest.row_counts.values())} rows in {manifest.duration_s:.2f} s")
        return str(path)

    @task
    def restore_drill(manifest: str) -> dict[str, object]:
        import os
        from pathlib import Path

        from airflow.sdk.exceptions import AirflowFailException

        from include.maintenance.restore_drill import DrillFailed, drill
        from include.settings import get_settings
        from include.store import audit
        from include.store.db import connect

        admin_url = os.environ.get("TICKETPILOT_DRILL_DB_URL") or get_settings().require_db()
        try:
            report = drill(Path(manifest), admin_url)
        except DrillFailed as failed:
            report = failed.report
        with connect() as conn, conn.transaction():
            audit.append(conn, actor="ticketpilot__backup", action="maintenance.restore_drill", subject=report.backup,
                         details=report.model_dump())
        print(report.line())
        if not report.passed:
            raise AirflowFailException("\n".join([report.line(), *report.problems]))
        return report.model_dump()

    restore_drill(dump())


backup()
