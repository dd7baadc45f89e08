"""One pipeline run per ticket-branch commit: retries, lost answers and resumes find the run already queued."""

from __future__ import annotations

import time

import pytest

from include.scm.ado import AdoClient
from include.scm.ado.models import ItemChange
from include.scm.ado.pipelines import ensure_run
from tests.emulators.ado.server import EmulatorServer

REPO, BRANCH, PIPELINE = "app", "tp/7-fix", 7


@pytest.fixture
def client(ado_emulator: EmulatorServer) -> AdoClient:
    main = ado_emulator.seed_repo(REPO, {"README.md": "hi\n"})
    ado_emulator.define_pipeline(PIPELINE, REPO, seconds=60)
    client = AdoClient.with_pat(ado_emulator.org_url, "proj", "pat")
    client.create_branch(REPO, BRANCH, main)
    return client


def test_a_second_call_for_the_same_commit_returns_the_same_run(client: AdoClient,
                                                                ado_emulator: EmulatorServer) -> None:
    head = client.head(REPO, BRANCH)
    first = ensure_run(client, PIPELINE, BRANCH, head)
    again = ensure_run(client, PIPELINE, BRANCH, head)
    assert again.id == first.id and again.state == "inProgress"
    assert [b["sourceVersion"] for b in ado_emulator.state.builds.values()] == [head]


def test_an_answer_lost_after_queueing_does_not_queue_twice(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    head = client.head(REPO, BRANCH)
    ado_emulator.arm({"path_regex": r"/pipelines/7/runs$", "method": "POST", "status": "drop_after"})
    run = ensure_run(client, PIPELINE, BRANCH, head)
    assert ado_emulator.state.faults.fired == {"drop_after": 1}, "the POST landed, its answer was lost"
    assert list(ado_emulator.state.runs) == [run.id]


def test_throttling_and_outages_are_waited_out(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    head = client.head(REPO, BRANCH)
    ado_emulator.arm({"path_regex": r"/build/builds$", "status": 429, "retry_after": 0.05},
                     {"path_regex": r"/pipelines/7/runs$", "method": "POST", "status": 503})
    run = ensure_run(client, PIPELINE, BRANCH, head)
    assert list(ado_emulator.state.runs) == [run.id]


def test_a_failed_run_of_the_commit_is_not_reused(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    head = client.head(REPO, BRANCH)
    failed = ensure_run(client, PIPELINE, BRANCH, head)
    ado_emulator.admin("POST", f"pipelines/{PIPELINE}/runs/{failed.id}", {"result": "failed"})
    fresh = ensure_run(client, PIPELINE, BRANCH, head)
    assert fresh.id != failed.id, "clearing the task after a failure asks for a new run"


def test_a_new_commit_gets_its_own_run(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    first = ensure_run(client, PIPELINE, BRANCH, client.head(REPO, BRANCH))
    client.push(REPO, BRANCH, client.head(REPO, BRANCH), "fix", [_add("FIX.md")])
    second = ensure_run(client, PIPELINE, BRANCH, client.head(REPO, BRANCH))
    assert second.id != first.id


def test_the_emulated_agent_finishes_runs_on_its_own(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    ado_emulator.define_pipeline(8, REPO, result="succeeded", seconds=0)
    run = ensure_run(client, 8, BRANCH, client.head(REPO, BRANCH))
    deadline = time.monotonic() + 5
    while client.get_run(8, run.id).state != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.get_run(8, run.id).result == "succeeded"


def _add(path: str) -> ItemChange:
    return ItemChange(change_type="add", path=path, content="fixed\n")
