"""The ADO triggers against the emulator: each run() driven to its one event."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from include.scm.ado import AdoClient
from tests.emulators.ado.fixtures import ado_emulator, ado_server
from tests.emulators.ado.server import EmulatorServer
from triggers.ado import AdoPipelineRunTrigger, AdoPullRequestVoteTrigger

__all__ = ["ado_emulator", "ado_server"]

CONN_ID = "ado_trigger_test"
REPO = "app"
PIPELINE = 7
ALICE = "9f2b6c1e-0000-4000-8000-00000000a11c"
BOB = "9f2b6c1e-0000-4000-8000-000000000b0b"


@pytest.fixture
def client(ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> AdoClient:
    """A client on the emulator, and the connection the triggers will read in the 'triggerer'."""
    conn = {"conn_type": "azure_devops", "host": ado_emulator.org_url, "password": "pat", "extra": {"project": "proj"}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return AdoClient.with_pat(ado_emulator.org_url, "proj", "pat")


@pytest.fixture
def pr_id(ado_emulator: EmulatorServer, client: AdoClient) -> int:
    """A PR with Alice as a required reviewer who has not voted yet."""
    main = ado_emulator.seed_repo(REPO, {"README.md": "hi\n"})
    client.create_branch(REPO, "feature/x", main)
    pr = client.create_pr(REPO, "feature/x", "main", "X", is_draft=False).pull_request_id
    reviewer = f"{ado_emulator.org_url}/proj/_apis/git/repositories/{REPO}/pullRequests/{pr}/reviewers/{ALICE}"
    httpx.put(reviewer, params={"api-version": "7.1"}, json={"vote": 0, "isRequired": True},
              auth=("", "pat")).raise_for_status()
    return pr


def vote_trigger(pr_id: int, reviewer_ids: list[str] | None = None, timeout: float = 10) -> AdoPullRequestVoteTrigger:
    return AdoPullRequestVoteTrigger(azure_devops_conn_id=CONN_ID, repo=REPO, pr_id=pr_id,
                                     reviewer_ids=reviewer_ids or [], timeout_at=time.time() + timeout,
                                     poll_interval=0.05)


def run_trigger(run_id: int, timeout: float = 10) -> AdoPipelineRunTrigger:
    return AdoPipelineRunTrigger(azure_devops_conn_id=CONN_ID, pipeline_id=PIPELINE, run_id=run_id,
                                 timeout_at=time.time() + timeout, poll_interval=0.05)


async def first_event(trigger: AdoPullRequestVoteTrigger | AdoPipelineRunTrigger) -> dict:
    events = [e.payload async for e in trigger.run()]
    assert len(events) == 1, "a trigger yields exactly one event"
    return events[0]


def test_serialize() -> None:
    for trigger in (vote_trigger(3, [ALICE]), run_trigger(9)):
        path, kwargs = trigger.serialize()
        assert path == f"triggers.ado.{type(trigger).__name__}"
        assert "pat" not in json.dumps(kwargs), "credentials must not be stored in the trigger table"
        assert type(trigger)(**kwargs).serialize() == (path, kwargs)
    assert vote_trigger(3, [ALICE]).serialize()[1] == {
        "azure_devops_conn_id": CONN_ID, "repo": REPO, "pr_id": 3, "reviewer_ids": [ALICE],
        "timeout_at": pytest.approx(time.time() + 10, abs=5), "poll_interval": 0.05}


async def test_vote_timeout_says_who_is_awaited(pr_id: int, client: AdoClient) -> None:
    client.set_vote(REPO, pr_id, ALICE, -5)  # waiting for author: keeps waiting
    event = await first_event(vote_trigger(pr_id, timeout=-1))
    assert event["status"] == "timeout"
    assert "not approved in time" in event["message"] and "waiting for" in event["message"]


async def test_vote_rejection_yields_rejected(pr_id: int, client: AdoClient) -> None:
    async def reject_soon() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(client.set_vote, REPO, pr_id, ALICE, -10)

    event, _ = await asyncio.gather(first_event(vote_trigger(pr_id)), reject_soon())
    assert event["status"] == "rejected" and "rejected by" in event["message"]
    assert list(event["votes"].values()) == [-10]


@pytest.mark.parametrize("vote", [10, 5])
async def test_vote_approval_yields_approved(pr_id: int, client: AdoClient, vote: int) -> None:
    client.set_vote(REPO, pr_id, ALICE, vote)
    event = await first_event(vote_trigger(pr_id))
    assert event["status"] == "approved" and list(event["votes"].values()) == [vote]


async def test_named_reviewers_count_instead_of_required_ones(pr_id: int, client: AdoClient) -> None:
    client.set_vote(REPO, pr_id, ALICE, 10)
    client.set_vote(REPO, pr_id, BOB, 0)
    assert (await first_event(vote_trigger(pr_id, [BOB], timeout=-1)))["status"] == "timeout"
    client.set_vote(REPO, pr_id, BOB, 5)
    assert (await first_event(vote_trigger(pr_id, [BOB])))["status"] == "approved"


async def test_vote_errors_become_an_error_event(pr_id: int) -> None:
    event = await first_event(vote_trigger(pr_id + 100))
    assert event["status"] == "error" and "TF401180" in event["message"]


async def test_run_success_yields_succeeded(ado_emulator: EmulatorServer, client: AdoClient) -> None:
    run = client.run_pipeline(PIPELINE, "main")

    async def finish_soon() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(ado_emulator.admin, "POST", f"pipelines/{PIPELINE}/runs/{run.id}",
                                {"result": "succeeded"})

    event, _ = await asyncio.gather(first_event(run_trigger(run.id)), finish_soon())
    assert event["status"] == "succeeded" and event["result"] == "succeeded" and event["url"] == run.url


@pytest.mark.parametrize("result", ["failed", "canceled"])
async def test_run_failure_yields_failed_with_url(ado_emulator: EmulatorServer, client: AdoClient,
                                                  result: str) -> None:
    run = client.run_pipeline(PIPELINE, "main")
    ado_emulator.admin("POST", f"pipelines/{PIPELINE}/runs/{run.id}", {"result": result})
    event = await first_event(run_trigger(run.id))
    assert (event["status"], event["result"], event["url"]) == ("failed", result, run.url)


async def test_run_timeout_names_the_last_state(client: AdoClient) -> None:
    run = client.run_pipeline(PIPELINE, "main")
    event = await first_event(run_trigger(run.id, timeout=-1))
    assert event["status"] == "timeout" and "'inProgress'" in event["message"] and event["url"] == run.url


async def test_run_errors_become_an_error_event(client: AdoClient, monkeypatch: pytest.MonkeyPatch) -> None:
    event = await first_event(run_trigger(4242))
    assert event["status"] == "error" and "4242" in event["message"]
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    monkeypatch.delenv("AZURE_DEVOPS_ORG_URL", raising=False)
    event = await first_event(run_trigger(1))
    assert event["status"] == "error" and "lacks org_url" in event["message"]
