"""The GitHub client against the emulator: real git behind real HTTP, with GitHub's rate limits and outages
injected on demand."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from include.scm.git import run_git
from include.scm.github import GitHubClient, GitHubError, RetryBudgetExceeded, RetryPolicy, graphql_url
from tests.emulators.github.server import GitHubEmulatorServer

REPO = "acme/app"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=10)
BRANCH = "feature/greet"


@pytest.fixture
def main(github_emulator: GitHubEmulatorServer) -> str:
    return github_emulator.seed_repo("app", {"README.md": "hello\n"})


@pytest.fixture
def client(github_emulator: GitHubEmulatorServer) -> Iterator[GitHubClient]:
    with GitHubClient(github_emulator.url, github_emulator.token, policy=FAST) as github:
        yield github


def git(emulator: GitHubEmulatorServer, *args: str) -> str:
    return run_git(*args, cwd=emulator.state.repos[REPO].git.path).stdout.strip()


def greet(client: GitHubClient, emulator: GitHubEmulatorServer, main: str) -> str:
    """`feature/greet` one commit ahead of main (adding greet.txt), made through the Git Data API."""
    client.create_ref(REPO, BRANCH, main)
    blob = client.create_blob(REPO, "hi\n")
    entries = [{"path": "greet.txt", "mode": "100644", "type": "blob", "sha": blob}]
    tree = client.create_tree(REPO, git(emulator, "rev-parse", f"{main}^{{tree}}"), entries)
    commit = client.create_commit(REPO, "Add greeting", tree, [main])
    return client.update_ref(REPO, BRANCH, commit.sha).object.sha


def test_token_goes_as_bearer_with_the_api_version(client: GitHubClient, github_emulator: GitHubEmulatorServer,
                                                   main: str) -> None:
    assert client.repository(REPO).default_branch == "main"
    assert github_emulator.state.auth_headers[-1] == f"Bearer {github_emulator.token}"
    assert github_emulator.state.api_versions[-1] == "2022-11-28"


def test_graphql_url_follows_the_host() -> None:
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/graphql"


def test_a_bad_token_is_a_401(github_emulator: GitHubEmulatorServer, main: str) -> None:
    with GitHubClient(github_emulator.url, "ghp_wrong", policy=FAST) as github:
        with pytest.raises(GitHubError, match="401: Bad credentials") as raised:
            github.repository(REPO)
    assert raised.value.status == 401


def test_create_ref_is_idempotent(client: GitHubClient, github_emulator: GitHubEmulatorServer, main: str) -> None:
    first = client.create_ref(REPO, "feature/x", main)
    again = client.create_ref(REPO, "feature/x", main)
    assert first == again and first.ref == "refs/heads/feature/x" and first.object.sha == main
    assert client.get_ref(REPO, "feature/x") == first and client.get_ref(REPO, "ghost") is None
    assert git(github_emulator, "rev-parse", "refs/heads/feature/x") == main


def test_create_ref_elsewhere_is_refused(client: GitHubClient, github_emulator: GitHubEmulatorServer,
                                        main: str) -> None:
    tip = greet(client, github_emulator, main)
    with pytest.raises(GitHubError, match="Reference already exists") as raised:
        client.create_ref(REPO, BRANCH, main)
    assert raised.value.status == 422 and client.get_ref(REPO, BRANCH).object.sha == tip  # type: ignore[union-attr]


def test_git_data_commits_are_real_and_refs_only_fast_forward(
    client: GitHubClient, github_emulator: GitHubEmulatorServer, main: str
) -> None:
    tip = greet(client, github_emulator, main)
    assert git(github_emulator, "rev-parse", f"{tip}^") == main
    assert git(github_emulator, "show", f"{tip}:greet.txt") == "hi"
    gone = client.create_tree(REPO, git(github_emulator, "rev-parse", f"{tip}^{{tree}}"),
                              [{"path": "README.md", "mode": "100644", "type": "blob", "sha": None}])
    assert git(github_emulator, "ls-tree", "--name-only", gone) == "greet.txt"
    sideways = client.create_commit(REPO, "Sideways", gone, [main])
    with pytest.raises(GitHubError, match="not a fast forward") as raised:
        client.update_ref(REPO, BRANCH, sideways.sha)
    assert raised.value.status == 422 and git(github_emulator, "rev-parse", f"refs/heads/{BRANCH}") == tip
    assert client.update_ref(REPO, BRANCH, tip).object.sha == tip  # the same commit again is a no-op


def test_create_pull_twice_gives_one_pr(client: GitHubClient, github_emulator: GitHubEmulatorServer,
                                        main: str) -> None:
    greet(client, github_emulator, main)
    first = client.create_pull(REPO, BRANCH, "main", "Add greeting", "Body", draft=True)
    second = client.create_pull(REPO, BRANCH, "main", "Add greeting", "Body", draft=True)
    assert first.number == second.number == 1 and first.draft and first.head.ref == BRANCH
    assert [p.number for p in client.list_pulls(REPO, f"acme:{BRANCH}")] == [1]
    assert client.list_pulls(REPO, "acme:other") == []


def test_a_pr_without_commits_is_refused(client: GitHubClient, main: str) -> None:
    client.create_ref(REPO, "feature/empty", main)
    with pytest.raises(GitHubError, match="No commits between main and feature/empty") as raised:
        client.create_pull(REPO, "feature/empty", "main", "Nothing", "", draft=True)
    assert raised.value.status == 422


def test_ready_for_review_goes_through_graphql(client: GitHubClient, github_emulator: GitHubEmulatorServer,
                                               main: str) -> None:
    greet(client, github_emulator, main)
    pr = client.create_pull(REPO, BRANCH, "main", "Add greeting", "", draft=True)
    client.mark_ready_for_review(pr.node_id)
    assert client.get_pull(REPO, pr.number).draft is False
    with pytest.raises(GitHubError, match="is not a draft"):
        client.mark_ready_for_review(pr.node_id)
    with pytest.raises(GitHubError, match="supports only one GraphQL document"):
        client.graphql("query { viewer { login } }", {})


def test_squash_merge_is_guarded_by_the_head_sha(client: GitHubClient, github_emulator: GitHubEmulatorServer,
                                                 main: str) -> None:
    tip = greet(client, github_emulator, main)
    pr = client.create_pull(REPO, BRANCH, "main", "Add greeting", "", draft=False)
    with pytest.raises(GitHubError, match="Head branch was modified") as raised:
        client.merge_pull(REPO, pr.number, main, "Add greeting (#1)")
    assert raised.value.status == 409
    result = client.merge_pull(REPO, pr.number, tip, "Add greeting (#1)", "Body")
    assert result.merged and git(github_emulator, "rev-parse", "refs/heads/main") == result.sha
    assert git(github_emulator, "rev-parse", f"{result.sha}^@") == main  # squash: one parent
    assert git(github_emulator, "log", "-1", "--format=%B", result.sha) == "Add greeting (#1)\n\nBody"
    merged = client.get_pull(REPO, pr.number)
    assert merged.is_merged and merged.state == "closed" and merged.merge_commit_sha == result.sha


def test_lists_follow_link_pages(client: GitHubClient, github_emulator: GitHubEmulatorServer, main: str) -> None:
    tip = greet(client, github_emulator, main)
    pr = client.create_pull(REPO, BRANCH, "main", "Add greeting", "", draft=True)
    github_emulator.admin("POST", "settings", {"max_per_page": 2})
    for n in range(5):
        client.create_issue_comment(REPO, pr.number, f"note {n}")
        client.create_status(REPO, tip, "success", f"ci/{n}")
    assert [c.body for c in client.issue_comments(REPO, pr.number)] == [f"note {n}" for n in range(5)]
    combined = client.combined_status(REPO, tip)
    assert combined.total_count == 5 and sorted(s.context for s in combined.statuses) == [f"ci/{n}" for n in range(5)]


def test_429_waits_as_long_as_retry_after_says(client: GitHubClient, github_emulator: GitHubEmulatorServer,
                                               main: str) -> None:
    github_emulator.arm({"path_regex": "/repos/acme/app$", "status": 429, "retry_after": 1})
    started = time.monotonic()
    assert client.repository(REPO).name == "app"
    assert 1.0 <= time.monotonic() - started < 3 and github_emulator.state.faults.fired == {"429": 1}


def test_secondary_limit_403_with_retry_after_is_retried(
    client: GitHubClient, github_emulator: GitHubEmulatorServer, main: str
) -> None:
    github_emulator.arm({"path_regex": "/git/refs$", "status": 403, "retry_after": 0.5})
    started = time.monotonic()
    assert client.create_ref(REPO, "feature/x", main).object.sha == main
    assert time.monotonic() - started >= 0.5 and github_emulator.state.faults.fired == {"403": 1}


def test_primary_limit_waits_for_the_reset(client: GitHubClient, github_emulator: GitHubEmulatorServer,
                                           main: str) -> None:
    github_emulator.arm({"path_regex": "/repos/acme/app$", "status": 403, "limit": "primary", "retry_after": 1})
    started = time.monotonic()
    assert client.repository(REPO).name == "app"
    assert time.monotonic() - started < 3 and github_emulator.state.faults.pending() == 0


def test_a_secondary_limit_without_a_wait_means_a_minute_which_passes_the_bound(
    client: GitHubClient, github_emulator: GitHubEmulatorServer, main: str
) -> None:
    github_emulator.arm({"path_regex": "/repos/acme/app$", "status": 403})
    started = time.monotonic()
    with pytest.raises(RetryBudgetExceeded, match="10s retry bound") as raised:
        client.repository(REPO)
    assert time.monotonic() - started < 1 and raised.value.status == 429


def test_a_permission_403_is_not_retried(github_emulator: GitHubEmulatorServer, main: str) -> None:
    github_emulator.add_token("ghp_read_only", read_only=True)
    with GitHubClient(github_emulator.url, "ghp_read_only", policy=FAST) as github:
        assert github.repository(REPO).name == "app"
        with pytest.raises(GitHubError, match="403: Resource not accessible by personal access token"):
            github.create_ref(REPO, "feature/x", main)
    assert github_emulator.state.writes == []


def test_outages_are_retried_and_each_write_lands_once(
    client: GitHubClient, github_emulator: GitHubEmulatorServer, main: str
) -> None:
    github_emulator.arm(
        {"path_regex": "/git/refs$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/git/ref/heads/", "method": "GET", "status": 429, "retry_after": 1},
        {"path_regex": "/git/blobs$", "status": 503, "count": 2},
        {"path_regex": "/git/trees$", "status": "drop"},
        {"path_regex": "/git/commits$", "status": "drop_after"},
        {"path_regex": "/git/refs/heads/", "method": "PATCH", "status": "drop_after"},
        {"path_regex": "/pulls$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/pulls$", "method": "GET", "status": "drop", "count": 2},
        {"path_regex": "/statuses/", "status": 503, "retry_after": 0.2},
    )
    started = time.monotonic()
    tip = greet(client, github_emulator, main)
    pr = client.create_pull(REPO, BRANCH, "main", "Add greeting", "", draft=False)
    client.create_status(REPO, tip, "success", "ci")
    elapsed = time.monotonic() - started

    state = github_emulator.state
    assert state.faults.pending() == 0 and elapsed < FAST.max_total_wait
    assert git(github_emulator, "rev-list", "--count", f"refs/heads/{BRANCH}") == "2"
    assert len(state.pulls[REPO]) == 1 and pr.number == 1
    assert [w for w in state.writes if w.startswith(("POST refs", "PATCH refs"))] == [
        f"POST refs/heads/{BRANCH}", f"PATCH refs/heads/{BRANCH}"]
    assert client.combined_status(REPO, tip).state == "success"


def test_a_comment_cut_off_mid_answer_is_not_replayed(
    client: GitHubClient, github_emulator: GitHubEmulatorServer, main: str
) -> None:
    greet(client, github_emulator, main)
    pr = client.create_pull(REPO, BRANCH, "main", "Add greeting", "", draft=True)
    github_emulator.arm({"path_regex": "/issues/1/comments$", "method": "POST", "status": "drop_after"})
    with pytest.raises(httpx.TransportError):
        client.create_issue_comment(REPO, pr.number, "once")
    assert [c.body for c in client.issue_comments(REPO, pr.number)] == ["once"]  # landed, and only once


def test_a_low_rate_budget_paces_the_next_call(github_emulator: GitHubEmulatorServer, main: str) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with GitHubClient(github_emulator.url, github_emulator.token, policy=FAST, sleep=sleep) as github:
        github_emulator.arm({"path_regex": "/repos/acme/app$", "status": "slow", "delay": 0.1,
                             "rate_limit_remaining": 3})
        github.repository(REPO)
        assert slept == []
        github.repository(REPO)
    assert len(slept) == 1 and 0.3 < slept[0] <= FAST.max_delay


def test_the_wait_is_bounded(github_emulator: GitHubEmulatorServer, main: str) -> None:
    github_emulator.arm({"path_regex": "/repos/acme/app$", "status": 429, "retry_after": 1, "count": 10})
    policy = RetryPolicy(base_delay=0.05, max_total_wait=1.5)
    started = time.monotonic()
    with GitHubClient(github_emulator.url, github_emulator.token, policy=policy) as github:
        with pytest.raises(RetryBudgetExceeded, match="1.5s retry bound") as raised:
            github.repository(REPO)
    assert time.monotonic() - started < 2.5
    assert raised.value.status == 429 and "max_total_wait" in str(raised.value)
