"""The dead-letter DAG: imports clean, every 15 minutes without catch-up; on the real PostgreSQL its task replays
a dead row and fails once, with the ticket and its last error, for a row past its last replay."""

from __future__ import annotations

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.trigger import CronTriggerTimetable

from include.settings import REPO_ROOT
from include.spawner.service import MAX_ATTEMPTS
from include.store.tenants import create_tenant

DAG_FILE = REPO_ROOT / "dags" / "maintenance_dead_letters.py"
DAG_ID = "ticketpilot__dead_letter_replay"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


def test_the_dag_imports_and_runs_every_quarter_hour(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.timetable == CronTriggerTimetable("*/15 * * * *", timezone="UTC") and dag.catchup is False


def test_a_dead_row_is_replayed_and_a_hopeless_one_fails_the_run_once(dagbag: DagBag, db: psycopg.Connection,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = dagbag.dags[DAG_ID].get_task("replay").python_callable
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "web", [])
    db.execute("INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, attempts, replays, last_error) VALUES "
               "('acme-1', 'ticket__acme__1', 1, %s, 0, 'Airflow answered 503'), "
               "('acme-2', 'ticket__acme__2', 1, %s, 3, 'DAG not serialised yet')", (MAX_ATTEMPTS, MAX_ATTEMPTS))
    with pytest.raises(AirflowFailException, match="a person must look.*\n.*acme-2 rev 1.*DAG not serialised yet"):
        run()
    assert "replayed outbox 1 (spawn of acme-1 rev 1" in capsys.readouterr().out
    assert run() == {"replayed": 0, "waiting": 0, "abandoned": 1}
