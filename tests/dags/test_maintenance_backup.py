"""The backup DAG: imports clean, runs nightly without catch-up, and its two tasks, run on the real PostgreSQL,
write a backup where the Variable says, restore it in the drill, and put both in the audit log; a backup that
does not restore fails the run with the difference in the log."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.trigger import CronTriggerTimetable

from include.maintenance.backup import read_manifest
from include.settings import REPO_ROOT
from include.store import audit

DAG_FILE = REPO_ROOT / "dags" / "maintenance_backup.py"
DAG_ID = "ticketpilot__backup"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


def callable_of(dagbag: DagBag, task_id: str):
    return dagbag.dags[DAG_ID].get_task(task_id).python_callable


def test_the_dag_imports_and_runs_nightly(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.catchup is False and dag.max_active_runs == 1 and set(dag.tags) == {"ticketpilot", "maintenance"}
    assert dag.timetable == CronTriggerTimetable("15 3 * * *", timezone="UTC")
    assert dag.get_task("restore_drill").upstream_task_ids == {"dump"}


def test_a_night_backs_up_restores_and_audits_both(dagbag: DagBag, db: psycopg.Connection, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_TICKETPILOT_BACKUP_DIR", str(tmp_path / "nightly"))
    with db.transaction():
        audit.append(db, actor="ops", action="test.action", subject="x", details={})
    manifest = callable_of(dagbag, "dump")()
    assert Path(manifest).parent == tmp_path / "nightly"
    report = callable_of(dagbag, "restore_drill")(manifest)
    assert report["problems"] == [] and report["audit_rows"] == 1
    assert "restore drill passed" in capsys.readouterr().out
    actions = db.execute("SELECT action, subject FROM ticketpilot.audit_log ORDER BY id").fetchall()
    file = read_manifest(Path(manifest)).file
    assert [(a["action"], a["subject"]) for a in actions] == [
        ("test.action", "x"), ("maintenance.backup", file), ("maintenance.restore_drill", file)]
    assert audit.verify(db).total == 3 and audit.verify(db).ok


def test_a_backup_that_does_not_restore_fails_the_run(dagbag: DagBag, db: psycopg.Connection, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_BACKUP_DIR", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_VAR_TICKETPILOT_BACKUP_DIR", raising=False)
    manifest = Path(callable_of(dagbag, "dump")())
    dump = manifest.with_name(read_manifest(manifest).file)
    dump.write_bytes(dump.read_bytes()[:200])
    with pytest.raises(AirflowFailException, match="restore drill FAILED.*\n.*altered or truncated"):
        callable_of(dagbag, "restore_drill")(str(manifest))
    last = db.execute("SELECT action, details FROM ticketpilot.audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert last["action"] == "maintenance.restore_drill" and last["details"]["problems"]
