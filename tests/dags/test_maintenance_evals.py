"""The nightly eval DAG: imports clean in a DagBag, has its tasks, schedule, tags and retries, and skips with
its reason when no model is configured."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowSkipException
from airflow.timetables.base import TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable

from include.settings import REPO_ROOT

DAG_FILE = REPO_ROOT / "dags" / "maintenance_evals.py"
DAG_ID = "ticketpilot__evals_nightly"
MODELS_VARIABLE_ENV = "AIRFLOW_VAR_TICKETPILOT_EVAL_MODELS"  # how Airflow reads a Variable from the environment
TASKS = ["select_models", "evaluate.run_evals", "evaluate.render_reports"]


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


@pytest.fixture
def select_models(dagbag: DagBag, monkeypatch: pytest.MonkeyPatch):
    for name in (MODELS_VARIABLE_ENV, "TICKETPILOT_EVAL_MODELS", "TICKETPILOT_LLM_MODEL", "TICKETPILOT_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return dagbag.dags[DAG_ID].get_task("select_models").python_callable


def test_the_dag_imports_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert list(dagbag.dag_ids) == [DAG_ID]


@pytest.mark.parametrize("now", ["2026-12-06T02:31:00", "2026-12-06T04:15:00", "2026-12-06T23:59:00"])
def test_tasks_schedule_and_tags(dagbag: DagBag, monkeypatch: pytest.MonkeyPatch, now: str) -> None:
    """Deployed a minute, two hours or a day after 02:30 UTC, the first run is the next night's: Airflow's own
    default would still run a slot that passed less than 2.4 h ago."""
    dag = dagbag.dags[DAG_ID]
    assert [task.task_id for task in dag.topological_sort()] == TASKS
    assert dag.get_task("evaluate.render_reports").upstream_task_ids == {"evaluate.run_evals"}
    assert dag.get_task("evaluate.run_evals").upstream_task_ids == {"select_models"}
    assert dag.timetable == CronTriggerTimetable("30 2 * * *", timezone="UTC", run_immediately=timedelta(0))
    deployed = pendulum.parse(now, tz="UTC")
    monkeypatch.setattr("airflow.timetables.trigger.utcnow", lambda: deployed)
    first = dag.timetable.next_dagrun_info(last_automated_data_interval=None,
                                           restriction=TimeRestriction(earliest=dag.start_date, latest=None,
                                                                       catchup=dag.catchup))
    assert first.run_after > deployed, "deploying never starts the night that already passed"
    assert (first.run_after.hour, first.run_after.minute) == (2, 30)
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.max_active_tasks == 1
    assert set(dag.tags) == {"ticketpilot", "maintenance"}
    assert "No model configured: the run is skipped, not failed." in dag.doc_md
    for task in dag.tasks:
        assert task.retries >= 1 and task.pool == "default_pool" and task.execution_timeout is not None, task.task_id
    assert dag.get_task("evaluate.run_evals").execution_timeout.total_seconds() == 2 * 3600


def test_without_a_model_the_run_is_skipped_with_the_reason(select_models) -> None:
    with pytest.raises(AirflowSkipException, match="no model to evaluate: set the Airflow Variable "
                                                   "ticketpilot_eval_models"):
        select_models()


def test_the_variable_names_the_models(select_models, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODELS_VARIABLE_ENV, '[{"model": "vllm:qwen", "base_url": "http://gpu:8000/v1"}]')
    monkeypatch.setenv("TICKETPILOT_LLM_MODEL", "llamacpp:smollm2-135m-instruct")
    assert select_models() == [{"model": "vllm:qwen", "base_url": "http://gpu:8000/v1"}]


def test_without_the_variable_the_agents_model_is_evaluated(select_models, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_LLM_MODEL", "llamacpp:smollm2-135m-instruct")
    assert select_models() == [{"model": "llamacpp:smollm2-135m-instruct", "base_url": None}]


def test_a_malformed_variable_fails_the_task(select_models, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODELS_VARIABLE_ENV, "gpt-4o-mini")
    with pytest.raises(ValueError, match="cannot read the models to evaluate from 'gpt-4o-mini'"):
        select_models()
