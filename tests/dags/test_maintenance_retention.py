"""The retention DAG: imports clean, nightly without catch-up, a dry-run param; its task on the real PostgreSQL
and a real state folder removes an expired transcript (and only counts it in a dry run)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.trigger import CronTriggerTimetable

from include.settings import REPO_ROOT, get_settings
from include.store.tenants import create_tenant

DAG_FILE = REPO_ROOT / "dags" / "maintenance_retention.py"
DAG_ID = "ticketpilot__retention"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


def test_the_dag_imports_and_runs_nightly(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.timetable == CronTriggerTimetable("15 2 * * *", timezone="UTC") and dag.catchup is False
    assert dag.params["dry_run"] is False


def test_an_expired_transcript_goes_and_a_dry_run_only_counts(dagbag: DagBag, db: psycopg.Connection, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path / "logs"))
    get_settings.cache_clear()
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "app", [])
    old = tmp_path / "transcripts" / "acme" / "acme-1" / "dev.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    stamp = time.time() - 100 * 86400
    os.utime(old, (stamp, stamp))
    purge = dagbag.dags[DAG_ID].get_task("purge").python_callable
    assert purge(params={"dry_run": True}) == {"transcripts:acme": 1} and old.exists()
    assert "transcripts:acme: would remove 1" in capsys.readouterr().out
    assert purge(params={"dry_run": False}) == {"transcripts:acme": 1} and not old.exists()
    get_settings.cache_clear()
