"""
### Retention
Every night at 02:15 UTC, removes what is past its days, per data class (`include/maintenance/retention.py`):
agents' transcripts (90 days by a ticket's newest file), cached model answers (30), hook delivery ids (90),
Airflow task logs (30) and the sandbox's cached test environments unused for 14 days. A tenant's own days for
its classes come from the Team Directory (`retention_days`). The cost ledger and the audit log are records and
are never expired. The log lists what went, per class and tenant; the purge is in the audit log.

**Dry run**: trigger with `{"dry_run": true}` to see what would go.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable


@dag(
    dag_id="ticketpilot__retention",
    dag_display_name="Ticketpilot: retention",
    description="Transcripts, cached model answers, delivery ids, task logs and sandbox environments past their days",
    schedule=CronTriggerTimetable("15 2 * * *", timezone="UTC", run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    tags=["ticketpilot", "maintenance"],
    doc_md=__doc__,
    params={"dry_run": Param(False, type="boolean", description="count only, remove nothing")},
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 1, "retry_delay": timedelta(minutes=5),
                  "execution_timeout": timedelta(minutes=30)},
)
def retention() -> None:
    @task
    def purge(params: dict[str, object] | None = None) -> dict[str, int]:
        from pathlib import Path

        from airflow.configuration import conf

        from include.maintenance.retention import purge as purge_expired
        from include.settings import get_settings
        from include.store.db import connect

        logs = conf.get("logging", "base_log_folder", fallback=None)
        with connect(autocommit=True) as conn:
            report = purge_expired(conn, home=get_settings().home, task_logs=Path(logs) if logs else None,
                                   actor="ticketpilot__retention", dry_run=bool((params or {}).get("dry_run")))
        for line in report.lines():
            print(line)
        return report.removed

    purge()


retention()
