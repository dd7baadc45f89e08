"""
### Audit anchors
Every hour at :05, walks every tenant's audit chain against its newest anchor, then writes each chain's new head
as an anchor outside the database (`TICKETPILOT_AUDIT_ANCHORS`: an object store with versioning or object lock
in production, `$TICKETPILOT_HOME/audit-anchors` on the embedded platform). A chain that does not verify **fails
this run** with its first altered, inserted or deleted row by id, and is not anchored: the anchor must never
bless a tampered chain. `python -m include.store.audit verify` gives the same report on demand.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable


@dag(
    dag_id="ticketpilot__audit_anchor",
    dag_display_name="Ticketpilot: audit anchors",
    description="Each tenant's audit chain verified, then its head anchored outside the database",
    schedule=CronTriggerTimetable("5 * * * *", timezone="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ticketpilot", "maintenance", "audit"],
    doc_md=__doc__,
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 1, "retry_delay": timedelta(minutes=1),
                  "execution_timeout": timedelta(minutes=15)},
)
def audit_anchor() -> None:
    @task
    def verify_and_anchor() -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        from include.store.audit import verify
        from include.store.audit.anchors import latest_anchors, write_anchors
        from include.store.db import connect

        with connect(autocommit=True) as conn:
            result = verify(conn, anchors=latest_anchors())
            for chain, rows in result.rows.items():
                print(f"{chain}: {rows} row(s)")
            if not result.ok:
                raise AirflowFailException("the audit log was tampered with; nothing anchored:\n"
                                           + "\n".join(str(f) for f in result.findings))
            written = write_anchors(conn)
        for anchor in written:
            print(f"anchored {anchor.chain} at seq {anchor.seq} (row id {anchor.row_id})")
        return {"chains": len(result.rows), "rows": result.total, "anchored": len(written)}

    verify_and_anchor()


audit_anchor()
