"""The ADO sensors: every execute_complete branch, the deferral they hand to their triggers, and a poke
against the emulator for the non-deferrable path."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from include.scm.ado import AdoClient
from sensors.ado import AdoPipelineRunSensor, AdoPullRequestVoteSensor
from tests.emulators.ado.fixtures import ado_emulator, ado_server
from tests.emulators.ado.server import EmulatorServer
from triggers.ado import AdoPipelineRunTrigger, AdoPullRequestVoteTrigger, AdoRunEvent, AdoVoteEvent

__all__ = ["ado_emulator", "ado_server"]

CONN_ID = "ado_sensor_test"
REPO = "app"
PIPELINE = 7
ALICE = "9f2b6c1e-0000-4000-8000-00000000a11c"
RUN_URL = "https://dev.azure.com/org/proj/_apis/pipelines/7/runs/3"


@pytest.fixture
def votes() -> AdoPullRequestVoteSensor:
    return AdoPullRequestVoteSensor(task_id="votes", repo=REPO, pr_id="12", reviewer_ids=[ALICE],
                                    azure_devops_conn_id=CONN_ID, deferrable=True, poll_interval=0.1)


@pytest.fixture
def run_sensor() -> AdoPipelineRunSensor:
    return AdoPipelineRunSensor(task_id="ci", pipeline_id=PIPELINE, run_id="3", azure_devops_conn_id=CONN_ID,
                                deferrable=True, poll_interval=0.1, timeout=600)


def vote_event(status: str, message: str = "") -> AdoVoteEvent:
    return AdoVoteEvent(status=status, repo=REPO, pr_id=12, message=message or status,  # type: ignore[typeddict-item]
                        votes={"Alice": 10})


def run_event(status: str, result: str | None = None) -> AdoRunEvent:
    return AdoRunEvent(status=status, pipeline_id=PIPELINE, run_id=3, result=result, url=RUN_URL,  # type: ignore[typeddict-item]
                       message=status)


def test_vote_timeout_fails_with_what_to_do(votes: AdoPullRequestVoteSensor) -> None:
    with pytest.raises(AirflowFailException, match="not approved within 7 days.*ask the required reviewers"):
        votes.execute_complete({}, vote_event("timeout", "waiting for Alice"))


def test_vote_rejection_fails_without_retry(votes: AdoPullRequestVoteSensor) -> None:
    with pytest.raises(AirflowFailException, match="PR 12 in 'app' was rejected by Alice"):
        votes.execute_complete({}, vote_event("rejected", "rejected by Alice"))


def test_vote_error_is_retryable(votes: AdoPullRequestVoteSensor) -> None:
    with pytest.raises(AirflowException, match="checking votes of PR 12") as raised:
        votes.execute_complete({}, vote_event("error"))
    assert not isinstance(raised.value, AirflowFailException)


def test_vote_approval_returns_the_votes(votes: AdoPullRequestVoteSensor) -> None:
    assert votes.execute_complete({}, vote_event("approved")) == {"status": "approved", "votes": {"Alice": 10}}


def test_vote_sensor_defers_to_its_trigger(votes: AdoPullRequestVoteSensor) -> None:
    with pytest.raises(TaskDeferred) as deferred:
        votes.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, AdoPullRequestVoteTrigger) and deferred.value.method_name == "execute_complete"
    assert (trigger.pr_id, trigger.reviewer_ids, trigger.azure_devops_conn_id) == (12, [ALICE], CONN_ID)


def test_templated_ids_are_checked_in_execute() -> None:
    sensor = AdoPullRequestVoteSensor(task_id="votes", repo=REPO, pr_id="{{ not rendered }}", deferrable=True)
    with pytest.raises(AirflowFailException, match="pr_id must be an integer"):
        sensor.execute({})


def test_run_timeout_fails_with_the_url(run_sensor: AdoPipelineRunSensor) -> None:
    with pytest.raises(AirflowFailException, match=f"did not complete within 0:10:00.*{RUN_URL}"):
        run_sensor.execute_complete({}, run_event("timeout"))


@pytest.mark.parametrize("result", ["failed", "canceled"])
def test_run_failure_fails_with_the_url(run_sensor: AdoPipelineRunSensor, result: str) -> None:
    with pytest.raises(AirflowFailException, match=f"ended {result}: see {RUN_URL}"):
        run_sensor.execute_complete({}, run_event("failed", result))


def test_run_error_is_retryable(run_sensor: AdoPipelineRunSensor) -> None:
    with pytest.raises(AirflowException, match="checking run 3 of pipeline 7 failed") as raised:
        run_sensor.execute_complete({}, run_event("error"))
    assert not isinstance(raised.value, AirflowFailException)


def test_run_success_returns_the_run(run_sensor: AdoPipelineRunSensor) -> None:
    assert run_sensor.execute_complete({}, run_event("succeeded", "succeeded")) == {
        "pipeline_id": PIPELINE, "run_id": 3, "result": "succeeded", "url": RUN_URL}


def test_run_sensor_defers_to_its_trigger(run_sensor: AdoPipelineRunSensor) -> None:
    with pytest.raises(TaskDeferred) as deferred:
        run_sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, AdoPipelineRunTrigger) and (trigger.pipeline_id, trigger.run_id) == (PIPELINE, 3)


def test_poke_path_uses_the_same_rules(ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "azure_devops", "host": ado_emulator.org_url, "password": "pat", "extra": {"project": "proj"}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    with AdoClient.with_pat(ado_emulator.org_url, "proj", "pat") as client:
        run = client.run_pipeline(PIPELINE, "main")
        sensor = AdoPipelineRunSensor(task_id="ci", pipeline_id=PIPELINE, run_id=run.id,
                                      azure_devops_conn_id=CONN_ID, deferrable=False)
        assert sensor.poke({}).is_done is False
        ado_emulator.admin("POST", f"pipelines/{PIPELINE}/runs/{run.id}", {"result": "failed"})
        with pytest.raises(AirflowFailException, match=f"ended failed: see {run.url}"):
            sensor.poke({})
        main = ado_emulator.seed_repo(REPO, {"README.md": "hi\n"})
        client.create_branch(REPO, "feature/x", main)
        pr = client.create_pr(REPO, "feature/x", "main", "X", is_draft=False).pull_request_id
        client.set_vote(REPO, pr, ALICE, 10)
        votes = AdoPullRequestVoteSensor(task_id="votes", repo=REPO, pr_id=pr, reviewer_ids=[ALICE],
                                         azure_devops_conn_id=CONN_ID, deferrable=False)
        assert votes.poke({}).xcom_value["status"] == "approved"
