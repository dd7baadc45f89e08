"""The Team Directory reconcile DAG: imports clean, runs every 30 minutes without catch-up, skips with its reason
when no file is configured, fails with the file's place and reason when it does not validate, and never creates a
tenant (whose secret nobody would see)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.timetables.trigger import CronTriggerTimetable

from include.settings import REPO_ROOT
from include.store.tenants import get_tenant

DAG_FILE = REPO_ROOT / "dags" / "maintenance_directory.py"
DAG_ID = "ticketpilot__directory_reconcile"
EXAMPLE = REPO_ROOT / "docs" / "examples" / "team-directory.yaml"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


@pytest.fixture
def reconcile(dagbag: DagBag, monkeypatch: pytest.MonkeyPatch):
    for name in ("AIRFLOW_VAR_TICKETPILOT_DIRECTORY", "TICKETPILOT_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    return dagbag.dags[DAG_ID].get_task("reconcile").python_callable


def test_the_dag_imports_and_is_scheduled(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.catchup is False and dag.max_active_runs == 1 and set(dag.tags) == {"ticketpilot", "maintenance"}
    assert dag.timetable == CronTriggerTimetable("*/30 * * * *", timezone="UTC")
    assert dag.get_task("reconcile").retries == 1


def test_without_a_file_the_run_is_skipped_with_the_reason(reconcile) -> None:
    with pytest.raises(AirflowSkipException, match="set the Airflow Variable ticketpilot_directory"):
        reconcile()


def test_a_file_that_does_not_validate_fails_the_run(reconcile, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "directory.yaml"
    bad.write_text("version: 1\ntenants:\n  - id: acme\n    default_repo: web\n    roles: {approver: [ghost]}\n")
    monkeypatch.setenv("AIRFLOW_VAR_TICKETPILOT_DIRECTORY", str(bad))
    with pytest.raises(AirflowFailException, match="role approver: 'ghost' is not a defined person"):
        reconcile()


def test_a_new_tenant_is_left_for_the_cli(reconcile, db: psycopg.Connection, forge_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TICKETPILOT_DIRECTORY", str(EXAMPLE))
    result = reconcile()
    assert result["changes"] == [] and get_tenant(db, "team-own") is None
    assert result["pending"][0].startswith("team-own: new tenant, not created here")
    assert "not done: team-own: new tenant" in capsys.readouterr().out
