"""
### Team Directory reconcile

Every 30 minutes, brings the platform to the Team Directory file (see `docs/examples/team-directory.yaml`), as
`ticketpilot directory apply` does: tenants' roles and R3 named approvers, pool sizes, monthly budgets, data
boundaries, repositories and CODEOWNERS pull requests. A person taken out of the file loses their rights on the
next run; every change is in the audit log. The task log lists each change.

**Which file**: the Airflow Variable `ticketpilot_directory` (a path readable by the workers), else the
environment variable `TICKETPILOT_DIRECTORY`. **None configured: the run is skipped**, with the reason in the log.
A file that does not validate fails the run with the place and reason, and changes nothing.

**New tenants are not created here**: their hook secret is shown once, to the person who creates them with
`ticketpilot directory apply`. The run lists them under "not done" and succeeds.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

DIRECTORY_VARIABLE = "ticketpilot_directory"


@dag(
    dag_id="ticketpilot__directory_reconcile",
    dag_display_name="Ticketpilot: Team Directory reconcile",
    description="Roles, approvers, pools, budgets, repositories and CODEOWNERS from the Team Directory file",
    schedule="*/30 * * * *",
    catchup=False,
    max_active_runs=1,
    tags=["ticketpilot", "maintenance"],
    doc_md=__doc__,
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 1, "retry_delay": timedelta(minutes=2),
                  "execution_timeout": timedelta(minutes=20)},
)
def directory_reconcile() -> None:
    @task
    def reconcile() -> dict[str, list[str]]:
        import os
        from pathlib import Path

        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from include.airflow_client import AirflowClient
        from include.directory.apply import apply
        from include.directory.load import DirectoryError, load

        configured = Variable.get(DIRECTORY_VARIABLE, default=None) or os.environ.get("TICKETPILOT_DIRECTORY")
        if not configured:
            raise AirflowSkipException(f"no Team Directory configured: set the Airflow Variable {DIRECTORY_VARIABLE} "
                                       "or TICKETPILOT_DIRECTORY to the file's path")
        path = Path(configured)
        try:
            directory = load(path)
        except DirectoryError as exc:
            raise AirflowFailException(str(exc)) from exc
        with AirflowClient.from_settings() as airflow:
            applied = apply(directory, base_dir=path.resolve().parent, airflow=airflow, actor="directory-reconcile",
                            create_tenants=False)
        for line in applied.changes or ["nothing to change"]:
            print(line)
        for line in applied.pending:
            print(f"not done: {line}")
        return {"changes": applied.changes, "pending": applied.pending}

    reconcile()


directory_reconcile()
