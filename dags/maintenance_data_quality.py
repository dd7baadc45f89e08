"""
### Data quality
Every night at 04:00 UTC, Great Expectations validates the platform's own data inside PostgreSQL, one task per
suite (`include/quality/suites.py`):

- **cost_ledger**: no negative cost or token count, a known status, each call in its own tenant's ledger, of a
  tenant that exists;
- **priced_models**: every call that cost money names a model with a price;
- **audit_chain**: each audit row links to the one before it (nothing removed or inserted in the middle);
- **ticket_store**: tickets of existing tenants, closed exactly when they have a close time; no delivery waiting
  for dispatch beyond 15 minutes (paused tenants aside) and no gate beyond its timeout.

A failing suite **fails its task**, with each failed expectation, how many rows and which (by id) in the task
log: these are defects or incidents, never noise. The others still run.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from include.quality.suites import SUITES


@dag(
    dag_id="ticketpilot__data_quality",
    dag_display_name="Ticketpilot: data quality",
    description="Great Expectations suites on the cost ledger, the audit chain and the ticket store",
    schedule=CronTriggerTimetable("0 4 * * *", timezone="UTC", run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    tags=["ticketpilot", "maintenance"],
    doc_md=__doc__,
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 0,
                  "execution_timeout": timedelta(minutes=30)},
)
def data_quality() -> None:
    for suite in SUITES:

        @task(task_id=f"validate_{suite.name}", doc_md=f"Suite `{suite.name}`: {suite.describe}.")
        def validate_suite(name: str) -> dict[str, object]:
            from airflow.sdk.exceptions import AirflowFailException

            from include.quality.validate import suite_named, validate
            from include.settings import get_settings

            result = validate(get_settings().require_db(), suite_named(name))
            for line in result.lines():
                print(line)
            if not result.success:
                raise AirflowFailException("\n".join(result.lines()))
            return result.model_dump()

        validate_suite(suite.name)


data_quality()
