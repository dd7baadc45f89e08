"""The Project Factory DAG: imports clean, runs only when triggered, its steps in order, each retried on its own,
and a spec that cannot be built fails the first task with the reason instead of half-building a project."""

from __future__ import annotations

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException

from include.settings import REPO_ROOT
from include.store.tenants import create_tenant

DAG_FILE = REPO_ROOT / "dags" / "project_factory.py"
DAG_ID = "ticketpilot__project_factory"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


def test_the_dag_imports_and_orders_its_steps(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert type(dag.timetable).__name__ == "NullTimetable" and dag.catchup is False
    assert [t.task_id for t in dag.topological_sort()] == ["validate", "project", "repositories",
                                                           "pipeline_and_policies", "service_hooks", "wiki"]
    assert dag.get_task("wiki").upstream_task_ids == {"validate", "project", "pipeline_and_policies"}
    for task in dag.tasks:
        assert task.retries == 2 and task.execution_timeout is not None, task.task_id


@pytest.mark.parametrize(("spec", "reason"), [
    ({}, "tenant"),
    ({"tenant": "acme", "repositories": [{"name": "web"}], "ingress_url": "https://x.example"},
     "tenant 'acme' uses local, not ado"),
    ({"tenant": "acme", "repositories": [{"name": "web"}, {"name": "WEB"}], "ingress_url": "https://x.example"},
     "a repository is listed twice"),
])
def test_a_spec_that_cannot_be_built_fails_the_first_task(dagbag: DagBag, db: psycopg.Connection,
                                                           spec: dict, reason: str) -> None:
    create_tenant(db, "acme", "acme", "s", "web", [])
    validate = dagbag.dags[DAG_ID].get_task("validate").python_callable
    with pytest.raises(AirflowFailException, match="the project spec cannot be built") as raised:
        validate(params={"spec": spec})
    assert reason in str(raised.value)
