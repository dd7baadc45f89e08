"""The GitLab client against the emulator: real git behind real HTTP, with faults injected on demand."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from include.scm.git import run_git
from include.scm.gitlab import GitLabClient, GitLabError, OutcomeUnknown, RetryBudgetExceeded, api_root
from include.scm.gitlab.models import CommitAction
from include.scm.http_retry import RetryPolicy
from tests.emulators.gitlab.server import TOKEN, GitLabEmulator

PROJECT = "acme/app"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=10)


@pytest.fixture
def main(gitlab_emulator: GitLabEmulator) -> str:
    return gitlab_emulator.seed_project("app", {"README.md": "hello\n"})


@pytest.fixture
def client(gitlab_emulator: GitLabEmulator) -> Iterator[GitLabClient]:
    with GitLabClient(gitlab_emulator.url, TOKEN, policy=FAST) as gitlab:
        yield gitlab


def git(emulator: GitLabEmulator, *args: str) -> str:
    project = next(iter(emulator.state.projects.values()))
    return run_git(*args, cwd=project.repo.path).stdout.strip()


def greet(client: GitLabClient, main: str) -> str:
    client.create_branch(PROJECT, "feature/greet", main)
    return client.create_commit(PROJECT, "feature/greet", "Add greeting",
                                [CommitAction(action="create", file_path="greet.txt", content="hi\n")]).id


def test_api_root_accepts_the_instance_or_its_api_url() -> None:
    assert api_root("https://gitlab.example.com/") == "https://gitlab.example.com/api/v4"
    assert api_root("https://gitlab.example.com/api/v4") == "https://gitlab.example.com/api/v4"
    with pytest.raises(ValueError, match="must start with https://"):
        api_root("gitlab.example.com")


def test_token_goes_as_private_token_and_the_path_url_encoded(
    client: GitLabClient, gitlab_emulator: GitLabEmulator, main: str
) -> None:
    project = client.project(PROJECT)
    assert (project.path_with_namespace, project.default_branch) == (PROJECT, "main")
    assert gitlab_emulator.state.auth_headers[-1] == TOKEN
    raw = httpx.get(f"{gitlab_emulator.api_url}/projects/acme/app", headers={"PRIVATE-TOKEN": TOKEN})
    assert raw.status_code == 404  # an unencoded slash is two path segments, as on GitLab


def test_an_unknown_token_is_a_401(gitlab_emulator: GitLabEmulator, main: str) -> None:
    with GitLabClient(gitlab_emulator.url, "glpat-wrong", policy=FAST) as gitlab:
        with pytest.raises(GitLabError) as raised:
            gitlab.project(PROJECT)
    assert raised.value.status == 401 and raised.value.message == "401 Unauthorized"


def test_branch_lookup_and_idempotent_creation(client: GitLabClient, gitlab_emulator: GitLabEmulator,
                                               main: str) -> None:
    assert client.branch(PROJECT, "feature/x") is None
    first = client.create_branch(PROJECT, "feature/x", main)
    again = client.create_branch(PROJECT, "feature/x", main)
    assert first.name == again.name == "feature/x" and first.commit.id == again.commit.id == main
    assert git(gitlab_emulator, "rev-parse", "refs/heads/feature/x") == main
    with pytest.raises(GitLabError, match="404 Project Not Found"):
        client.branch("acme/nope", "main")


def test_create_branch_elsewhere_is_a_conflict(client: GitLabClient, main: str) -> None:
    tip = greet(client, main)
    with pytest.raises(GitLabError) as raised:
        client.create_branch(PROJECT, "feature/greet", main)
    assert raised.value.status == 409 and tip in raised.value.message


def test_commit_actions_make_a_real_commit(client: GitLabClient, gitlab_emulator: GitLabEmulator, main: str) -> None:
    tip = greet(client, main)
    assert git(gitlab_emulator, "rev-parse", "refs/heads/feature/greet") == tip
    assert git(gitlab_emulator, "rev-parse", f"{tip}^") == main
    edited = client.create_commit(PROJECT, "feature/greet", "Edit and delete", [
        CommitAction(action="update", file_path="greet.txt", content="hello\n"),
        CommitAction(action="delete", file_path="README.md"),
    ])
    assert edited.parent_ids == [tip]
    assert git(gitlab_emulator, "ls-tree", "--name-only", edited.id) == "greet.txt"
    with pytest.raises(GitLabError, match="A file with this name already exists"):
        client.create_commit(PROJECT, "feature/greet", "Again", [CommitAction(action="create", file_path="greet.txt",
                                                                              content="x")])


def test_create_merge_request_twice_gives_one(client: GitLabClient, gitlab_emulator: GitLabEmulator,
                                              main: str) -> None:
    greet(client, main)
    first = client.create_merge_request(PROJECT, "feature/greet", "main", "Draft: Add greeting")
    second = client.create_merge_request(PROJECT, "feature/greet", "main", "Add greeting")
    assert first.iid == second.iid == 1 and first.draft and first.state == "opened"
    assert len(gitlab_emulator.state.merge_requests[first.project_id]) == 1


def test_merge_squashes_for_real_and_a_replay_returns_the_merged_mr(
    client: GitLabClient, gitlab_emulator: GitLabEmulator, main: str
) -> None:
    tip = greet(client, main)
    mr = client.create_merge_request(PROJECT, "feature/greet", "main", "Add greeting")
    with pytest.raises(GitLabError) as stale:
        client.merge(PROJECT, mr.iid, main)
    assert stale.value.status == 409 and "SHA does not match HEAD of source branch" in stale.value.message
    done = client.merge(PROJECT, mr.iid, tip)
    assert done.state == "merged" and done.merge_commit_sha and done.squash_commit_sha
    assert git(gitlab_emulator, "rev-parse", "refs/heads/main") == done.merge_commit_sha
    assert git(gitlab_emulator, "rev-parse", f"{done.merge_commit_sha}^@").split() == [main, done.squash_commit_sha]
    assert git(gitlab_emulator, "rev-parse", f"{done.squash_commit_sha}^@") == main  # one squashed commit
    assert client.merge(PROJECT, mr.iid, tip).merge_commit_sha == done.merge_commit_sha


def test_a_status_posted_twice_is_one_status(client: GitLabClient, main: str) -> None:
    first = client.set_status(PROJECT, main, "pending", "tests", ref="main")
    again = client.set_status(PROJECT, main, "pending", "tests", ref="main")  # GitLab: 400 cannot transition
    assert again.id == first.id and again.status == "pending"
    done = client.set_status(PROJECT, main, "success", "tests", ref="main", description="x" * 300)
    assert done.id == first.id and done.description == "x" * 255
    client.set_status(PROJECT, main, "failed", "lint", ref="main")
    assert [(s.name, s.status) for s in client.statuses(PROJECT, main, ref="main")] == [
        ("tests", "success"), ("lint", "failed")]


def test_lists_follow_every_page(gitlab_emulator: GitLabEmulator, main: str) -> None:
    with GitLabClient(gitlab_emulator.url, TOKEN, policy=FAST, page_size=2) as small:
        small.create_branch(PROJECT, "feature/notes", main)
        mr = small.create_merge_request(PROJECT, "feature/notes", "main", "Notes")
        for n in range(5):
            small.create_note(PROJECT, mr.iid, f"note {n}")
        assert [note.body for note in small.notes(PROJECT, mr.iid)] == [f"note {n}" for n in range(5)]


def test_error_bodies_become_one_line(client: GitLabClient, main: str) -> None:
    with pytest.raises(GitLabError) as raised:
        client.create_merge_request(PROJECT, "ghost", "main", "Nothing")
    assert raised.value.status == 400 and raised.value.message == 'source_branch source branch "ghost" does not exist'


def test_a_write_whose_answer_is_lost_is_reported_not_replayed(
    client: GitLabClient, gitlab_emulator: GitLabEmulator, main: str
) -> None:
    client.create_branch(PROJECT, "feature/once", main)
    gitlab_emulator.arm({"path_regex": "/repository/commits$", "status": "drop_after"})
    with pytest.raises(OutcomeUnknown, match="may have been applied"):
        client.create_commit(PROJECT, "feature/once", "Once", [CommitAction(action="create", file_path="a.txt",
                                                                            content="a\n")])
    assert len(gitlab_emulator.state.commits_created) == 1  # it landed, and was sent once
    gitlab_emulator.arm({"path_regex": "/repository/commits$", "status": 503, "count": 2})
    client.create_commit(PROJECT, "feature/once", "Twice", [CommitAction(action="create", file_path="b.txt",
                                                                         content="b\n")])
    assert len(gitlab_emulator.state.commits_created) == 2  # a 503 proves nothing landed: retried


def test_429_waits_as_told(gitlab_emulator: GitLabEmulator, main: str) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    gitlab_emulator.arm({"path_regex": "/repository/branches/", "status": 429, "retry_after": 1})
    with GitLabClient(gitlab_emulator.url, TOKEN, policy=FAST, sleep=sleep) as gitlab:
        branch = gitlab.branch(PROJECT, "main")
    assert branch is not None and branch.commit.id == main
    assert gitlab_emulator.state.faults.fired == {"429": 1} and 1.0 <= slept[0] <= 1.0 + FAST.base_delay


def test_a_falling_rate_limit_paces_the_next_call(gitlab_emulator: GitLabEmulator, main: str) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with GitLabClient(gitlab_emulator.url, TOKEN, policy=FAST, sleep=sleep) as gitlab:
        gitlab_emulator.arm({"path_regex": "/repository/branches/", "status": "slow", "delay": 0.1,
                             "rate_limit_remaining": 3})
        gitlab.branch(PROJECT, "main")
        assert slept == []
        gitlab.branch(PROJECT, "main")
    # RateLimit-Reset is 1 to 2 s away and 3 requests are left: spread over 4, capped by max_delay
    assert len(slept) == 1 and 0.2 < slept[0] <= FAST.max_delay


def test_bound_exceeded_is_a_clear_error(gitlab_emulator: GitLabEmulator, main: str) -> None:
    gitlab_emulator.arm({"path_regex": "/projects/", "status": 429, "retry_after": 1, "count": 10})
    policy = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=1.5)
    started = time.monotonic()
    with GitLabClient(gitlab_emulator.url, TOKEN, policy=policy) as gitlab:
        with pytest.raises(RetryBudgetExceeded, match="1.5s bound") as raised:
            gitlab.project(PROJECT)
    assert time.monotonic() - started < 3.5
    assert raised.value.status == 429 and "GitLab is throttling" in str(raised.value)
