"""The ADO client against the emulator: real git behind real HTTP, with faults injected on demand."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest

from include.scm.ado import (
    AdoClient,
    AdoError,
    ItemChange,
    PatchOp,
    RetryBudgetExceeded,
    RetryPolicy,
    StaleRevision,
)
from include.scm.git import run_git
from tests.emulators.ado.server import EmulatorServer

REPO = "app"
PAT = "s3cret-pat"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=10)
REVIEWER = "9f2b6c1e-0000-4000-8000-000000000001"


@pytest.fixture
def main(ado_emulator: EmulatorServer) -> str:
    return ado_emulator.seed_repo(REPO, {"README.md": "hello\n"})


@pytest.fixture
def client(ado_emulator: EmulatorServer) -> Iterator[AdoClient]:
    with AdoClient.with_pat(ado_emulator.org_url, "proj", PAT, policy=FAST) as ado:
        yield ado


def git(emulator: EmulatorServer, *args: str) -> str:
    return run_git(*args, cwd=emulator.state.repos[REPO].git.path).stdout.strip()


def greet(client: AdoClient, main: str) -> str:
    client.create_branch(REPO, "feature/greet", main)
    return client.push(REPO, "feature/greet", main, "Add greeting",
                       [ItemChange(change_type="add", path="greet.txt", content="hi\n")]).commit_id


def test_pat_goes_as_basic_auth(client: AdoClient, ado_emulator: EmulatorServer, main: str) -> None:
    client.list_refs(REPO)
    assert ado_emulator.state.auth_headers[-1] == "Basic " + base64.b64encode(f":{PAT}".encode()).decode()


def test_token_provider_goes_as_bearer(ado_emulator: EmulatorServer, main: str) -> None:
    with AdoClient.with_token_provider(ado_emulator.org_url, "proj", lambda: "tok-1") as ado:
        ado.list_refs(REPO)
    assert ado_emulator.state.auth_headers[-1] == "Bearer tok-1"


def test_create_branch_is_idempotent(client: AdoClient, ado_emulator: EmulatorServer, main: str) -> None:
    first = client.create_branch(REPO, "feature/x", main)
    again = client.create_branch(REPO, "feature/x", main)
    assert (first.created, first.update_status) == (True, "succeeded")
    assert (again.created, again.object_id) == (False, main)
    assert git(ado_emulator, "rev-parse", "refs/heads/feature/x") == main


def test_create_branch_elsewhere_is_a_conflict(client: AdoClient, main: str) -> None:
    tip = greet(client, main)
    with pytest.raises(AdoError) as raised:
        client.create_branch(REPO, "feature/greet", main)
    assert raised.value.status == 409 and tip in str(raised.value)


def test_push_makes_a_real_commit(client: AdoClient, ado_emulator: EmulatorServer, main: str) -> None:
    tip = greet(client, main)
    assert git(ado_emulator, "rev-parse", "refs/heads/feature/greet") == tip
    assert git(ado_emulator, "rev-parse", f"{tip}^") == main
    assert git(ado_emulator, "show", f"{tip}:greet.txt") == "hi"
    edited = client.push(REPO, "feature/greet", tip, "Edit and delete", [
        ItemChange(change_type="edit", path="greet.txt", content="hello\n"),
        ItemChange(change_type="delete", path="README.md"),
    ])
    assert git(ado_emulator, "ls-tree", "--name-only", edited.commit_id) == "greet.txt"
    assert client.get_item(REPO, "greet.txt", "feature/greet").content == "hello\n"


def test_push_on_a_moved_branch_is_refused(client: AdoClient, main: str) -> None:
    greet(client, main)
    with pytest.raises(AdoError) as raised:
        client.push(REPO, "feature/greet", main, "Late", [ItemChange(change_type="add", path="b.txt")])
    assert raised.value.status == 409 and raised.value.type_key == "GitReferenceStaleException"


def test_create_pr_twice_gives_one_pr(client: AdoClient, ado_emulator: EmulatorServer, main: str) -> None:
    greet(client, main)
    first = client.create_pr(REPO, "feature/greet", "main", "Add greeting", work_item_ids=[42])
    second = client.create_pr(REPO, "feature/greet", "main", "Add greeting")
    assert first.pull_request_id == second.pull_request_id
    assert first.is_draft and [w.id for w in first.work_item_refs] == ["42"]
    assert len(ado_emulator.state.pull_requests) == 1


def test_complete_pr_squash_merges_for_real(client: AdoClient, ado_emulator: EmulatorServer, main: str) -> None:
    tip = greet(client, main)
    pr = client.create_pr(REPO, "feature/greet", "main", "Add greeting")
    assert not client.publish_pr(REPO, pr.pull_request_id).is_draft
    done = client.complete_pr(REPO, pr.pull_request_id, tip)
    assert done.status == "completed" and done.last_merge_commit is not None
    merged = done.last_merge_commit.commit_id
    assert git(ado_emulator, "rev-parse", "refs/heads/main") == merged
    assert git(ado_emulator, "show", "main:greet.txt") == "hi"
    assert git(ado_emulator, "rev-parse", f"{merged}^@") == main  # squash: one parent
    assert client.complete_pr(REPO, pr.pull_request_id, tip).last_merge_commit == done.last_merge_commit


def test_review_threads_votes_and_statuses(client: AdoClient, main: str) -> None:
    greet(client, main)
    pr = client.create_pr(REPO, "feature/greet", "main", "Add greeting")
    thread = client.create_thread(REPO, pr.pull_request_id, "Please add a test.")
    assert thread.comments[0].content == "Please add a test." and thread.status == "active"
    assert client.set_vote(REPO, pr.pull_request_id, REVIEWER, 10).vote == 10
    assert [(r.id, r.vote) for r in client.list_reviewers(REPO, pr.pull_request_id)] == [(REVIEWER, 10)]
    status = client.create_status(REPO, pr.pull_request_id, "pending", "running", "ci")
    assert (status.state, status.context.name, status.context.genre) == ("pending", "ci", "ticketpilot")


def test_work_items_patch_and_comment(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    item_id = ado_emulator.seed_work_item({"System.Title": "Greet"})["id"]
    updated = client.update_work_item(item_id, 1, [PatchOp(op="add", path="/fields/System.State", value="Active")])
    assert (updated.rev, updated.fields["System.State"]) == (2, "Active")
    assert client.add_comment(item_id, "On it.").text == "On it."
    assert client.get_work_item(item_id, expand="All").rev == 2


def test_abandon_pr_lands_once_after_a_lost_answer_and_never_over_a_merge(
    client: AdoClient, ado_emulator: EmulatorServer, main: str
) -> None:
    tip = greet(client, main)
    pr = client.create_pr(REPO, "feature/greet", "main", "Add greeting", is_draft=False)
    ado_emulator.arm({"path_regex": "/pullrequests/\\d+$", "method": "PATCH", "status": "drop_after"})
    assert client.abandon_pr(REPO, pr.pull_request_id).status == "abandoned"
    assert ado_emulator.state.faults.pending() == 0
    with pytest.raises(AdoError, match="is abandoned and cannot be completed"):
        client.complete_pr(REPO, pr.pull_request_id, tip)
    again = client.create_pr(REPO, "feature/greet", "main", "Add greeting", is_draft=False)
    client.complete_pr(REPO, again.pull_request_id, tip)
    with pytest.raises(AdoError, match="is completed and cannot be abandoned"):
        client.abandon_pr(REPO, again.pull_request_id)


def test_work_item_comments_follow_the_continuation_token(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    item_id = ado_emulator.seed_work_item({"System.Title": "Greet"})["id"]
    for n in range(450):
        ado_emulator.state.add_comment(item_id, f"note {n}")
    texts = [c.text for c in client.work_item_comments(item_id)]
    assert texts == [f"note {n}" for n in range(450)]


def test_stale_revision(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    item_id = ado_emulator.seed_work_item({"System.Title": "Greet"})["id"]
    client.update_work_item(item_id, 1, [PatchOp(op="add", path="/fields/System.State", value="Active")])
    with pytest.raises(StaleRevision) as raised:
        client.update_work_item(item_id, 1, [PatchOp(op="add", path="/fields/System.State", value="Closed")])
    assert raised.value.status == 412


def test_pipeline_run_and_latest_build(client: AdoClient, ado_emulator: EmulatorServer) -> None:
    run = client.run_pipeline(7, "feature/greet", variables={"TICKET": "42"})
    assert run.state == "inProgress"
    ado_emulator.admin("POST", f"pipelines/7/runs/{run.id}", {"result": "succeeded"})
    assert (client.get_run(7, run.id).state, client.get_run(7, run.id).result) == ("completed", "succeeded")
    build = client.latest_build(7, "feature/greet")
    assert build is not None and (build.id, build.result) == (run.id, "succeeded")
    assert client.latest_build(7, "other") is None


def test_fault_storm_every_call_lands_exactly_once(
    client: AdoClient, ado_emulator: EmulatorServer, main: str
) -> None:
    item_id = ado_emulator.seed_work_item({"System.Title": "Greet"})["id"]
    ado_emulator.arm(
        {"path_regex": "/refs$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/refs$", "method": "GET", "status": 429, "retry_after": 1},
        {"path_regex": "/pushes$", "status": 503, "count": 2},
        {"path_regex": "/pushes$", "status": "drop_after"},
        {"path_regex": "/pullrequests$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/pullrequests$", "method": "GET", "status": "drop", "count": 2},
        {"path_regex": "/pullrequests/\\d+$", "method": "PATCH", "status": "drop_after", "count": 2},
        {"path_regex": "/workitems/\\d+$", "method": "PATCH", "status": "drop_after"},
        {"path_regex": "/items$", "status": "slow", "delay": 0.2, "rate_limit_remaining": 3},
    )
    started = time.monotonic()
    branch = client.create_branch(REPO, "feature/greet", main)
    tip = client.push(REPO, "feature/greet", main, "Add greeting",
                      [ItemChange(change_type="add", path="greet.txt", content="hi\n")]).commit_id
    assert client.get_item(REPO, "greet.txt", "feature/greet").content == "hi\n"
    pr = client.create_pr(REPO, "feature/greet", "main", "Add greeting", is_draft=False)
    done = client.complete_pr(REPO, pr.pull_request_id, tip)
    item = client.update_work_item(item_id, 1, [PatchOp(op="add", path="/fields/System.State", value="Resolved")])
    elapsed = time.monotonic() - started

    state = ado_emulator.state
    assert state.faults.pending() == 0 and elapsed < FAST.max_total_wait
    assert branch.object_id == main
    assert len(state.pushes) == 1 and git(ado_emulator, "rev-list", "--count", "refs/heads/feature/greet") == "2"
    assert len(state.pull_requests) == 1 and done.status == "completed"
    assert git(ado_emulator, "rev-list", "--count", "refs/heads/main") == "2"
    assert git(ado_emulator, "show", "main:greet.txt") == "hi"
    assert (item.rev, item.fields["System.State"]) == (2, "Resolved")


def test_delayed_answer_paces_the_next_call(ado_emulator: EmulatorServer, main: str) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with AdoClient.with_pat(ado_emulator.org_url, "proj", PAT, policy=FAST, sleep=sleep) as ado:
        ado_emulator.arm({"path_regex": "/refs$", "status": "slow", "delay": 0.1, "retry_after": 0.5})
        ado.list_refs(REPO)
        assert slept == []
        ado.list_refs(REPO)
    assert len(slept) == 1 and 0.3 < slept[0] <= 0.5


def test_bound_exceeded_is_a_clear_error(ado_emulator: EmulatorServer, main: str) -> None:
    ado_emulator.arm({"path_regex": "/refs$", "status": 429, "retry_after": 1, "count": 10})
    policy = RetryPolicy(base_delay=0.05, max_total_wait=1.5)
    started = time.monotonic()
    with AdoClient.with_pat(ado_emulator.org_url, "proj", PAT, policy=policy) as ado:
        with pytest.raises(RetryBudgetExceeded, match="1.5s bound") as raised:
            ado.list_refs(REPO)
    assert time.monotonic() - started < 2.5
    assert raised.value.status == 429 and "max_total_wait" in str(raised.value)
