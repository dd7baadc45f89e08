"""The audit-anchor DAG: hourly without catch-up; on the real PostgreSQL it anchors each chain's head, and a
chain cut short since its last anchor fails the run by row id and is not anchored again."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.trigger import CronTriggerTimetable

from include.settings import REPO_ROOT
from include.store import audit
from include.store.audit.anchors import ANCHORS_ENV, latest_anchors

DAG_FILE = REPO_ROOT / "dags" / "maintenance_audit_anchor.py"
DAG_ID = "ticketpilot__audit_anchor"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


def test_the_dag_imports_and_runs_hourly(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.timetable == CronTriggerTimetable("5 * * * *", timezone="UTC") and dag.catchup is False


def test_it_anchors_then_fails_on_a_truncated_chain(dagbag: DagBag, db: psycopg.Connection, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ANCHORS_ENV, str(tmp_path))
    run = dagbag.dags[DAG_ID].get_task("verify_and_anchor").python_callable
    for i in range(3):
        audit.append(db, actor="ops", action="step", subject=str(i), details={}, tenant="alpha")
    assert run() == {"chains": 1, "rows": 3, "anchored": 1}
    assert latest_anchors(str(tmp_path))["alpha"].seq == 3
    last = db.execute("SELECT max(id) AS id FROM ticketpilot.audit_log").fetchone()["id"]
    db.execute("SET session_replication_role = replica")
    db.execute("DELETE FROM ticketpilot.audit_log WHERE id = %s", (last,))
    db.execute("RESET session_replication_role")
    with pytest.raises(AirflowFailException, match=f"alpha: deleted at seq 3 \\(row id {last}\\)"):
        run()
    assert latest_anchors(str(tmp_path))["alpha"].seq == 3, "a tampered chain is not anchored"
