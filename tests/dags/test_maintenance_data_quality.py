"""The data-quality DAG: imports clean, one task per suite, nightly without catch-up; a suite's task on the real
PostgreSQL passes on sound data and fails with the failed expectation and the row in its message."""

from __future__ import annotations

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.trigger import CronTriggerTimetable

from include.quality.suites import SUITES
from include.settings import REPO_ROOT
from include.store import audit

DAG_FILE = REPO_ROOT / "dags" / "maintenance_data_quality.py"
DAG_ID = "ticketpilot__data_quality"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


def test_one_task_per_suite_nightly(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.timetable == CronTriggerTimetable("0 4 * * *", timezone="UTC") and dag.catchup is False
    assert sorted(dag.task_ids) == sorted(f"validate_{s.name}" for s in SUITES)
    assert all(not dag.get_task(t).upstream_task_ids for t in dag.task_ids), "a failing suite stops no other"


def test_the_audit_suite_passes_then_fails_with_the_row(dagbag: DagBag, db: psycopg.Connection,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    validate_audit = dagbag.dags[DAG_ID].get_task("validate_audit_chain").python_callable
    for i in range(3):
        with db.transaction():
            audit.append(db, actor="ops", action="test", subject=str(i), details={})
    assert validate_audit("audit_chain")["findings"] == []
    assert "audit_chain: passed, 3 expectations on 3 rows" in capsys.readouterr().out
    first = db.execute("SELECT min(id) AS id FROM ticketpilot.audit_log").fetchone()["id"]
    db.execute("SET session_replication_role = replica")
    db.execute("DELETE FROM ticketpilot.audit_log WHERE id = %s", (first + 1,))
    db.execute("RESET session_replication_role")
    with pytest.raises(AirflowFailException, match=f"audit_chain: FAILED.*\n.*prev_hash, chain_prev.*id={first + 2}"):
        validate_audit("audit_chain")
