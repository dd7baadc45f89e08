"""GitHubAdapter against the emulator (real HTTP, real git): what only GitHub has, beyond the contract
test_conformance.py checks of every forge (PR ids across repositories, the token in git's header, statuses on
the head commit, line comments only inside the diff, writes that land once when answers are lost)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from include.scm.base import FileChange, ScmError
from include.scm.git import run_git
from include.scm.github import GitHubAdapter, RetryPolicy, pack_pr_id
from tests.emulators.github.server import GitHubEmulatorServer
from tests.include.scm.conftest import REPO, SEED, TENANT

FULL = f"acme/{REPO}"
FEATURE = "tp/demo-1"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=5)


def adapter(emulator: GitHubEmulatorServer, cache: Path, token: str | None = None,
            policy: RetryPolicy = FAST) -> GitHubAdapter:
    return GitHubAdapter(TENANT, emulator.url, token or emulator.token, owner="acme", cache_dir=cache, policy=policy)


@pytest.fixture
def forge(github_emulator: GitHubEmulatorServer, tmp_path: Path) -> Iterator[GitHubAdapter]:
    """An adapter for an owner with one seeded repository."""
    github_emulator.seed_repo(REPO, SEED)
    forge = adapter(github_emulator, tmp_path / "mirrors")
    yield forge
    forge.close()


def git(emulator: GitHubEmulatorServer, *args: str) -> str:
    """Read the emulator's bare repository directly, bypassing the adapter under test."""
    return run_git(*args, cwd=emulator.state.repos[FULL].git.path).stdout


def log(emulator: GitHubEmulatorServer, branch: str) -> list[str]:
    return git(emulator, "log", "--format=%s", f"refs/heads/{branch}").splitlines()


def draft_pr(forge: GitHubAdapter, branch: str, changes: list[FileChange], title: str = "Change") -> int:
    """A draft PR from `branch` carrying `changes` (GitHub opens no PR for a branch without commits)."""
    forge.ensure_branch(REPO, branch, "main")
    forge.commit_files(REPO, branch, changes, title, idempotency_key=f"{branch}-1")
    return forge.open_pr(REPO, branch, "main", title, "", draft=True, workitem_id=None).pr_id


def ready_pr(forge: GitHubAdapter, branch: str, changes: list[FileChange], title: str = "Change") -> int:
    return forge.publish(draft_pr(forge, branch, changes, title)).pr_id


def connection(emulator: GitHubEmulatorServer, **fields: object) -> str:
    return json.dumps({"conn_type": "github", "host": emulator.url, "password": emulator.token,
                       "extra": {"owner": "acme"}} | fields)


def test_from_connection_reads_the_tenant_connection(
    github_emulator: GitHubEmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_GITHUB_{TENANT.upper()}", connection(github_emulator))
    github_emulator.seed_repo(REPO, SEED)
    forge = GitHubAdapter.from_connection(TENANT, cache_dir=tmp_path, policy=FAST)
    assert forge.tenant == TENANT and forge.owner == "acme"
    assert forge.default_branch(REPO) == "main"
    assert github_emulator.state.auth_headers[-1] == f"Bearer {github_emulator.token}"


def test_from_connection_defaults_and_gaps(github_emulator: GitHubEmulatorServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_CLOUD", json.dumps({"conn_type": "github", "password": "ghp_x",
                                                                "extra": {"owner": "acme"}}))
    assert GitHubAdapter.from_connection("cloud").client.api_url == "https://api.github.com"
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_ORPHAN", connection(github_emulator, extra={}))
    with pytest.raises(ScmError, match="'github_orphan' lacks owner \\(set extra.owner\\)"):
        GitHubAdapter.from_connection("orphan")
    assert GitHubAdapter.from_connection("orphan", owner="someone").owner == "someone"
    monkeypatch.setenv("AIRFLOW_CONN_OTHER", connection(github_emulator, host="ghe.example.com"))
    with pytest.raises(ScmError, match="must be the API URL: it must start with https://"):
        GitHubAdapter.from_connection("acme", "other")
    with pytest.raises(ScmError, match="no Airflow connection 'github_nobody' for tenant 'nobody': create one of "
                                       "type 'github'"):
        GitHubAdapter.from_connection("nobody")


def test_unknown_repo_branch_and_pr_name_what_is_missing(forge: GitHubAdapter) -> None:
    with pytest.raises(ScmError, match="reading the repository failed .*404: Not Found.*Check that the repository"):
        forge.default_branch("nope")
    with pytest.raises(ScmError, match="must be 'name' or 'owner/name'"):
        forge.default_branch("../etc")
    with pytest.raises(ScmError, match="unknown branch 'ghost'"):
        forge.ensure_branch(REPO, FEATURE, "ghost")
    with pytest.raises(ScmError, match="reading a pull request failed .*404"):
        forge.get_pr(pack_pr_id(4242, 1))
    with pytest.raises(ScmError, match="42 is not a PR id of the GitHub adapter"):
        forge.get_pr(42)
    assert forge.head(REPO, "ghost") is None


def test_errors_say_what_to_do(forge: GitHubAdapter, github_emulator: GitHubEmulatorServer, tmp_path: Path) -> None:
    with pytest.raises(ScmError, match="401: Bad credentials.*renew it .* github_<tenant>"):
        adapter(github_emulator, tmp_path / "a", "ghp_expired").default_branch(REPO)
    github_emulator.add_token("ghp_read_only", read_only=True)
    with pytest.raises(ScmError, match="creating a branch failed .*403.*needs Contents, Pull requests and Commit"):
        adapter(github_emulator, tmp_path / "b", "ghp_read_only").ensure_branch(REPO, FEATURE, "main")
    forge.ensure_branch(REPO, FEATURE, "main")
    with pytest.raises(ScmError, match="no pull request for a branch without commits: 'tp/demo-1' .* commit to it"):
        forge.open_pr(REPO, FEATURE, "main", "Empty", "", draft=True, workitem_id=None)
    github_emulator.arm({"path_regex": "/repos/acme/shop$", "status": 503, "count": 50})
    impatient = RetryPolicy(base_delay=0.05, max_total_wait=0.5)
    with pytest.raises(ScmError, match="503: .*kept rate limiting or failing .*0.5s retry bound.*unavailable"):
        adapter(github_emulator, tmp_path / "c", policy=impatient).default_branch(REPO)


def test_concurrent_commits_on_one_branch_all_land(
    forge: GitHubAdapter, github_emulator: GitHubEmulatorServer, tmp_path: Path
) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")

    def write(n: int) -> str:
        change = FileChange(path=f"notes/{n}.txt", content=f"{n}\n")
        writer = adapter(github_emulator, tmp_path / f"writer-{n}")  # each writer its own mirror, as pods have
        return writer.commit_files(REPO, FEATURE, [change], f"Note {n}", idempotency_key=f"note-{n}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(write, range(3)))
    assert len(log(github_emulator, FEATURE)) == 4
    listed = git(github_emulator, "ls-tree", "--name-only", f"refs/heads/{FEATURE}:notes").split()
    assert sorted(listed) == [f"{n}.txt" for n in range(3)]


def test_open_pr_twice_creates_one_pull_request(forge: GitHubAdapter, github_emulator: GitHubEmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a\n")], "Add a", "k1")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "Body", draft=True, workitem_id=7)
    assert forge.open_pr(REPO, FEATURE, "main", "Other title", "", draft=False, workitem_id=7) == pr
    assert len(github_emulator.state.pulls[FULL]) == 1
    assert pr.pr_id == pack_pr_id(github_emulator.state.repos[FULL].id, 1)


def test_pr_ids_tell_repositories_apart(forge: GitHubAdapter, github_emulator: GitHubEmulatorServer,
                                        tmp_path: Path) -> None:
    github_emulator.seed_repo("docs", {"index.md": "# docs\n"})
    github_emulator.seed_repo("tools", {"x.sh": "echo\n"}, owner="platform")
    first = draft_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")])
    forge.ensure_branch("docs", FEATURE, "main")
    forge.commit_files("docs", FEATURE, [FileChange(path="b.md", content="b\n")], "Add b", "k-docs")
    second = forge.open_pr("docs", FEATURE, "main", "Docs", "", draft=True, workitem_id=None)
    forge.ensure_branch("platform/tools", FEATURE, "main")
    forge.commit_files("platform/tools", FEATURE, [FileChange(path="y.sh", content="y\n")], "Add y", "k-tools")
    third = forge.open_pr("platform/tools", FEATURE, "main", "Tools", "", draft=True, workitem_id=None)
    assert len({first, second.pr_id, third.pr_id}) == 3
    assert [forge.get_pr(i).repo for i in (first, second.pr_id, third.pr_id)] == [REPO, "docs", "platform/tools"]
    assert forge.diff(third.pr_id).endswith("+y\n")
    github_emulator.arm({"path_regex": "/repositories/", "status": 503, "count": 2})
    fresh = adapter(github_emulator, tmp_path / "fresh")  # a new process knows only the id
    assert fresh.get_pr(third.pr_id) == third


def test_comment_is_a_review_comment_keyed_by_a_hidden_line(
    forge: GitHubAdapter, github_emulator: GitHubEmulatorServer
) -> None:
    pr_id = draft_pr(forge, FEATURE, [FileChange(path="app/main.py", content="print('bye')\n")])
    first = forge.comment(pr_id, "Looks good", "review-1", path="app/main.py", line=1)
    assert first.author == "ticketpilot-bot"
    stored = github_emulator.state.review_comments[(FULL, 1)][0]
    assert stored["body"].endswith("<!-- ticketpilot:key=review-1 -->") and stored["side"] == "RIGHT"
    with pytest.raises(ScmError, match="must be one line without '--'"):
        forge.comment(pr_id, "x", "bad--key")


def test_a_line_outside_the_diff_is_commented_on_the_file(forge: GitHubAdapter) -> None:
    lines = [f"line {n}" for n in range(1, 41)]
    forge.merge(ready_pr(forge, "tp/base", [FileChange(path="long.txt", content="\n".join(lines) + "\n")]))
    pr_id = draft_pr(forge, FEATURE, [FileChange(path="long.txt", content="\n".join([*lines[:-1], "last"]) + "\n")])
    inside = forge.comment(pr_id, "Inside", "in", path="long.txt", line=39)
    outside = forge.comment(pr_id, "Outside", "out", path="long.txt", line=3)
    assert (inside.path, inside.line, inside.body) == ("long.txt", 39, "Inside")
    assert (outside.path, outside.line, outside.body) == ("long.txt", None, "Line 3: Outside")
    with pytest.raises(ScmError, match="commenting on a pull request failed .*path is not part of the diff"):
        forge.comment(pr_id, "Elsewhere", "elsewhere", path="app/util.py", line=1)


def test_statuses_are_github_states_with_short_descriptions(
    forge: GitHubAdapter, github_emulator: GitHubEmulatorServer
) -> None:
    pr_id = draft_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")])
    forge.set_status(pr_id, "tests", "pending")
    forge.set_status(pr_id, "lint", "succeeded")
    forge.set_status(pr_id, "tests", "failed", "x" * 300)
    recorded = github_emulator.state.statuses[(FULL, forge.head(REPO, FEATURE))]
    assert [s["state"] for s in recorded] == ["pending", "success", "failure"]
    assert len(recorded[-1]["description"]) == 140


def test_statuses_belong_to_the_head_commit(forge: GitHubAdapter) -> None:
    pr_id = draft_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")])
    forge.set_status(pr_id, "tests", "failed")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="fixed\n")], "Fix", "k2")
    assert forge.statuses(pr_id) == {}



def test_merge_is_a_squash_named_after_the_pr_without_markers(
    forge: GitHubAdapter, github_emulator: GitHubEmulatorServer
) -> None:
    main = forge.head(REPO, "main")
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a\n")], "Add a", "k1")
    pr = forge.open_pr(REPO, FEATURE, "main", "Add a and b", "", draft=False, workitem_id=3)
    merged = forge.merge(pr.pr_id)
    assert git(github_emulator, "rev-parse", f"{merged.merge_commit}^@").split() == [main]  # one parent: a squash
    assert log(github_emulator, "main") == ["Add a and b (#1)", "Initial commit"]
    assert "ticketpilot" not in git(github_emulator, "log", "-1", "--format=%B", "refs/heads/main")


def test_merge_conflict_is_reported_and_changes_nothing(forge: GitHubAdapter) -> None:
    first = ready_pr(forge, "tp/one", [FileChange(path="app/main.py", content="print('one')\n")])
    second = ready_pr(forge, "tp/two", [FileChange(path="app/main.py", content="print('two')\n")])
    forge.merge(first)
    tip = forge.head(REPO, "main")
    with pytest.raises(ScmError, match="has merge conflicts with 'main'; update 'tp/two' from 'main'"):
        forge.merge(second)
    assert forge.head(REPO, "main") == tip and forge.get_pr(second).status == "active"


def test_merge_refuses_a_head_that_moved_meanwhile(
    forge: GitHubAdapter, github_emulator: GitHubEmulatorServer, tmp_path: Path
) -> None:
    pr_id = ready_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")])
    github_emulator.arm({"path_regex": "/status$", "method": "GET", "status": "slow", "delay": 1.5})
    with ThreadPoolExecutor(max_workers=1) as pool:
        merging = pool.submit(forge.merge, pr_id)
        deadline = time.monotonic() + 5
        while github_emulator.state.faults.pending() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the merge waits on its status read, the head sha already in hand
        late = adapter(github_emulator, tmp_path / "late")
        late.commit_files(REPO, FEATURE, [FileChange(path="b.txt", content="b\n")], "Late", "late-1")
        with pytest.raises(ScmError, match="merging a pull request failed .*409: Head branch was modified.*retry"):
            merging.result()
    assert forge.get_pr(pr_id).status == "active" and log(github_emulator, "main") == ["Initial commit"]


def test_checkout_sends_the_token_only_as_a_header(
    forge: GitHubAdapter, github_emulator: GitHubEmulatorServer, tmp_path: Path
) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    dest = forge.checkout(REPO, FEATURE, tmp_path / "wc")
    basic = base64.b64encode(f"x-access-token:{github_emulator.token}".encode()).decode()
    assert github_emulator.state.auth_headers[-1] == f"Basic {basic}"
    forge.commit_files(REPO, FEATURE, [FileChange(path="new.txt", content="new\n")], "Add new", "k1")
    config = (dest / ".git" / "config").read_text() + (forge.cache_dir / "700001.git" / "config").read_text()
    assert github_emulator.token not in config and basic not in config


def test_every_write_lands_once_when_answers_are_lost(
    forge: GitHubAdapter, github_emulator: GitHubEmulatorServer
) -> None:
    github_emulator.arm(
        {"path_regex": "/git/refs$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/git/refs/heads/", "method": "PATCH", "status": "drop_after"},
        {"path_regex": "/pulls$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/pulls$", "method": "GET", "status": 429, "retry_after": 1},
        {"path_regex": "/issues/1/comments$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/pulls/1/comments$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/graphql$", "status": "drop_after"},
        {"path_regex": "/statuses/", "status": 403, "retry_after": 0.2},
        {"path_regex": "/merge$", "status": "drop_after"},
    )
    started = time.monotonic()
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="app/main.py", content="print('bye')\n")], "Bye", "k1")
    pr = forge.open_pr(REPO, FEATURE, "main", "Bye", "", draft=True, workitem_id=None)
    forge.comment(pr.pr_id, "Noted", "note-1")
    forge.comment(pr.pr_id, "On the line", "line-1", path="app/main.py", line=1)
    forge.publish(pr.pr_id)
    forge.set_status(pr.pr_id, "ci", "succeeded")
    merged = forge.merge(pr.pr_id)
    elapsed = time.monotonic() - started

    state = github_emulator.state
    assert state.faults.pending() == 0 and elapsed < FAST.max_total_wait * 2
    assert log(github_emulator, FEATURE) == ["Bye", "Initial commit"]
    assert len(state.pulls[FULL]) == 1 and merged.status == "completed"
    assert [c.body for c in forge.comments(pr.pr_id)] == ["Noted", "On the line"]
    assert log(github_emulator, "main") == ["Bye (#1)", "Initial commit"]
    assert sum(w.startswith("PUT merge") for w in state.writes) == 1
    assert sum(w.startswith("graphql ready") for w in state.writes) == 1
