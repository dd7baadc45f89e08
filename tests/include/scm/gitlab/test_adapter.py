"""GitLabAdapter against the emulator (real HTTP, real git): what only GitLab has, beyond the contract
test_conformance.py checks of every forge (drafts by title prefix, iids per project, diff positions, commit
statuses on the head commit, the token in git's header) and every write under injected faults."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.scm.base import FileChange, ScmError
from include.scm.git import run_git
from include.scm.gitlab import GitLabAdapter
from include.scm.http_retry import RetryPolicy
from tests.emulators.gitlab.server import TOKEN, GitLabEmulator

TENANT = "acme"
REPO = "shop"
GUIDE = "".join(f"step {n}\n" for n in range(1, 11))
SEED = {"README.md": "# shop\n", "app/main.py": "print('hello')\n", "app/util.py": "X = 1\n", "docs/guide.md": GUIDE}
FEATURE = "tp/demo-1"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=8)


@pytest.fixture
def forge(gitlab_emulator: GitLabEmulator, tmp_path: Path) -> Iterator[GitLabAdapter]:
    """An adapter for a namespace with one seeded project."""
    gitlab_emulator.seed_project(REPO, SEED)
    adapter = adapter_for_test(gitlab_emulator, tmp_path)
    yield adapter
    adapter.close()


def adapter_for_test(emulator: GitLabEmulator, tmp_path: Path, token: str = TOKEN) -> GitLabAdapter:
    return GitLabAdapter(TENANT, emulator.api_url, token, namespace="acme", cache_dir=tmp_path / "mirrors",
                         policy=FAST)


def git(emulator: GitLabEmulator, *args: str, repo: str = REPO) -> str:
    """Read the emulator's bare repository directly, bypassing the adapter under test."""
    project = next(p for p in emulator.state.projects.values() if p.name == repo)
    return run_git(*args, cwd=project.repo.path).stdout


def log(emulator: GitLabEmulator, branch: str) -> list[str]:
    return git(emulator, "log", "--first-parent", "--format=%s", f"refs/heads/{branch}").splitlines()


def stored_notes(emulator: GitLabEmulator, pr_id: int, repo: str = REPO) -> list[dict]:
    project = next(p for p in emulator.state.projects.values() if p.name == repo)
    return emulator.state.notes.get((project.id, pr_id), [])


def ready_pr(forge: GitLabAdapter, branch: str, changes: list[FileChange], title: str = "Change") -> int:
    forge.ensure_branch(REPO, branch, "main")
    forge.commit_files(REPO, branch, changes, title, idempotency_key=f"{branch}-1")
    pr = forge.open_pr(REPO, branch, "main", title, "", draft=True, workitem_id=None)
    return forge.publish(pr.pr_id).pr_id


def test_from_connection_reads_the_tenant_connection(
    gitlab_emulator: GitLabEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conn = {"conn_type": "gitlab", "host": gitlab_emulator.url, "password": TOKEN, "extra": {"namespace": "acme"}}
    monkeypatch.setenv(f"AIRFLOW_CONN_GITLAB_{TENANT.upper()}", json.dumps(conn))
    gitlab_emulator.seed_project(REPO, SEED)
    forge = GitLabAdapter.from_connection(TENANT, cache_dir=tmp_path)
    assert forge.tenant == TENANT and forge.namespace == "acme"
    assert forge.client.api_url == f"{gitlab_emulator.url}/api/v4"
    assert forge.default_branch(REPO) == "main"
    assert gitlab_emulator.state.auth_headers[-1] == TOKEN


def test_from_connection_defaults_to_gitlab_com_and_names_a_missing_connection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GITLAB_BETA", json.dumps({"conn_type": "gitlab", "password": "glpat-x"}))
    assert GitLabAdapter.from_connection("beta", cache_dir=tmp_path).client.api_url == "https://gitlab.com/api/v4"
    monkeypatch.setenv("AIRFLOW_CONN_GL_GAMMA", json.dumps({"conn_type": "gitlab", "host": "git.example.com",
                                                             "port": 8443, "password": "glpat-y"}))
    gamma = GitLabAdapter.from_connection("gamma", "gl_gamma", cache_dir=tmp_path)
    assert gamma.client.api_url == "https://git.example.com:8443/api/v4"
    with pytest.raises(ScmError, match="no Airflow connection 'gitlab_ghost'.*password = an access token"):
        GitLabAdapter.from_connection("ghost", cache_dir=tmp_path)


def test_unknown_project_branch_and_mr_name_what_is_missing(forge: GitLabAdapter) -> None:
    with pytest.raises(ScmError, match="reading the project failed .*404 Project Not Found.*Check that the project"):
        forge.default_branch("nope")
    with pytest.raises(ScmError, match="unknown branch 'ghost' in GitLab project 'acme/shop'"):
        forge.ensure_branch(REPO, FEATURE, "ghost")
    with pytest.raises(ScmError, match="no project of namespace 'acme' has a merge request !4242"):
        forge.get_pr(4242)
    assert forge.head(REPO, "ghost") is None


def test_token_and_permission_errors_say_what_to_do(
    forge: GitLabAdapter, gitlab_emulator: GitLabEmulator, tmp_path: Path
) -> None:
    with pytest.raises(ScmError, match="401 Unauthorized.*renew the access token .* gitlab_<tenant>"):
        adapter_for_test(gitlab_emulator, tmp_path, "glpat-expired").default_branch(REPO)
    gitlab_emulator.grant("glpat-reporter", "reporter")
    reader = adapter_for_test(gitlab_emulator, tmp_path, "glpat-reporter")
    assert reader.default_branch(REPO) == "main"
    with pytest.raises(ScmError, match="creating a branch failed .*403 Forbidden.*`api` scope and at least the "
                                       "Developer role"):
        reader.ensure_branch(REPO, FEATURE, "main")


def test_drafts_are_a_title_prefix_and_publishing_leaves_a_system_note(
    forge: GitLabAdapter, gitlab_emulator: GitLabEmulator
) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "Body", draft=True, workitem_id=7)
    assert pr.pr_id == 1
    stored = next(iter(gitlab_emulator.state.merge_requests.values()))[1]
    assert stored["title"] == "Draft: Demo" and stored["draft"] is True  # GitLab's documented draft marker
    published = forge.publish(pr.pr_id)
    assert published.is_draft is False and published.title == "Demo" and stored["title"] == "Demo"
    assert forge.publish(pr.pr_id) == published
    assert [n["body"] for n in stored_notes(gitlab_emulator, 1)] == ["marked this merge request as **ready**"]
    assert forge.comments(pr.pr_id) == []  # system notes are GitLab's, not comments


def test_an_iid_is_looked_up_in_the_namespace_and_ambiguity_is_refused(
    forge: GitLabAdapter, gitlab_emulator: GitLabEmulator, tmp_path: Path
) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    shop_pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=False, workitem_id=None)
    assert adapter_for_test(gitlab_emulator, tmp_path).get_pr(shop_pr.pr_id) == shop_pr
    gitlab_emulator.seed_project("api", {"README.md": "# api\n"})
    forge.ensure_branch("api", FEATURE, "main")
    api_pr = forge.open_pr("api", FEATURE, "main", "Demo", "", draft=False, workitem_id=None)
    assert api_pr.pr_id == shop_pr.pr_id == 1 and api_pr.repo == "api"  # iids count per project
    fresh = adapter_for_test(gitlab_emulator, tmp_path)
    with pytest.raises(ScmError, match="MR iid 1 is used by projects api, shop of namespace 'acme'.*find_pr"):
        fresh.get_pr(1)
    assert fresh.find_pr(REPO, FEATURE) == shop_pr and fresh.get_pr(1) == shop_pr


def test_comment_is_a_diff_note_keyed_by_a_hidden_line(forge: GitLabAdapter, gitlab_emulator: GitLabEmulator) -> None:
    pr_id = ready_pr(forge, FEATURE, [FileChange(path="app/main.py", content="print('bye')\n")])
    first = forge.comment(pr_id, "Looks good", "review-1", path="app/main.py", line=1)
    assert first.author == "Ticketpilot Bot"
    note = next(n for n in stored_notes(gitlab_emulator, pr_id) if n["id"] == first.comment_id)
    assert note["type"] == "DiffNote" and note["body"].endswith("<!-- ticketpilot:key=review-1 -->")
    with pytest.raises(ScmError, match="must be one line without '--'"):
        forge.comment(pr_id, "x", "a--b")


def test_diff_comments_name_lines_the_way_gitlab_wants(forge: GitLabAdapter, gitlab_emulator: GitLabEmulator) -> None:
    guide = GUIDE.replace("step 4\n", "step 4a\nstep 4b\n")
    pr_id = ready_pr(forge, FEATURE, [FileChange(path="docs/guide.md", content=guide)])
    added = forge.comment(pr_id, "New step", "c-added", path="docs/guide.md", line=5)
    context = forge.comment(pr_id, "Unchanged", "c-context", path="docs/guide.md", line=7)
    whole_file = forge.comment(pr_id, "About this file", "c-file", path="docs/guide.md")
    outside = forge.comment(pr_id, "Far away", "c-outside", path="docs/guide.md", line=11)
    untouched = forge.comment(pr_id, "Elsewhere", "c-untouched", path="README.md", line=1)
    positions = {n["id"]: n.get("position") for n in stored_notes(gitlab_emulator, pr_id)}
    assert (positions[added.comment_id]["old_line"], positions[added.comment_id]["new_line"]) == (None, 5)
    assert (positions[context.comment_id]["old_line"], positions[context.comment_id]["new_line"]) == (6, 7)
    assert (whole_file.path, whole_file.line) == ("docs/guide.md", 1)
    # GitLab takes no position outside the diff: those become plain notes naming the place
    assert positions[outside.comment_id] is None and outside.path is None
    assert outside.body == "On `docs/guide.md` line 11:\n\nFar away"
    assert untouched.body.startswith("On `README.md` line 1:") and positions[untouched.comment_id] is None


def test_statuses_are_gitlab_commit_statuses_on_the_source_branch(
    forge: GitLabAdapter, gitlab_emulator: GitLabEmulator
) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=True, workitem_id=None)
    forge.set_status(pr.pr_id, "tests", "pending")
    forge.set_status(pr.pr_id, "lint", "succeeded")
    forge.set_status(pr.pr_id, "tests", "failed", "2 failures")
    forge.set_status(pr.pr_id, "policy", "error")
    rows = [s for _, s in gitlab_emulator.state.statuses]
    assert {(s["name"], s["status"], s["ref"]) for s in rows} == {
        ("tests", "failed", FEATURE), ("lint", "success", FEATURE), ("policy", "canceled", FEATURE)}


def test_merge_is_a_squash_then_a_merge_commit_and_a_retry_keeps_it(
    forge: GitLabAdapter, gitlab_emulator: GitLabEmulator, tmp_path: Path
) -> None:
    main = forge.head(REPO, "main")
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a\n")], "Add a", "k1")
    forge.commit_files(REPO, FEATURE, [FileChange(path="b.txt", content="b\n")], "Add b", "k2")
    pr = forge.open_pr(REPO, FEATURE, "main", "Add a and b", "", draft=False, workitem_id=None)
    merged = forge.merge(pr.pr_id)
    target, squash = git(gitlab_emulator, "rev-parse", f"{merged.merge_commit}^@").split()
    assert target == main and git(gitlab_emulator, "rev-parse", f"{squash}^@").split() == [main]
    assert git(gitlab_emulator, "log", "-1", "--format=%s", squash).strip() == "Add a and b"
    assert adapter_for_test(gitlab_emulator, tmp_path).merge(pr.pr_id) == merged  # a retried task, fresh adapter


def test_merge_refusals_say_why_and_change_nothing(forge: GitLabAdapter, gitlab_emulator: GitLabEmulator) -> None:
    first = ready_pr(forge, "tp/one", [FileChange(path="app/main.py", content="print('one')\n")])
    second = ready_pr(forge, "tp/two", [FileChange(path="app/main.py", content="print('two')\n")])
    forge.merge(first)
    tip = forge.head(REPO, "main")
    with pytest.raises(ScmError, match="refused to merge MR !2 .*422: Branch cannot be merged; detailed merge "
                                       "status 'conflict'.*resolve them"):
        forge.merge(second)
    assert forge.head(REPO, "main") == tip and forge.get_pr(second).status == "active"
    third = ready_pr(forge, "tp/three", [FileChange(path="c.txt", content="c\n")])
    stored = next(iter(gitlab_emulator.state.merge_requests.values()))[third]
    stored |= {"state": "locked", "detailed_merge_status": "not_open"}  # GitLab's state while another merge runs
    with pytest.raises(ScmError, match="405: 405 Method Not Allowed; detailed merge status 'not_open'.*will not "
                                       "merge it in its current state"):
        forge.merge(third)
    stored["state"] = "closed"
    with pytest.raises(ScmError, match="MR !3 was closed; open a new merge request"):
        forge.merge(third)


def test_checkout_sends_the_credential_only_as_a_header(
    forge: GitLabAdapter, gitlab_emulator: GitLabEmulator, tmp_path: Path
) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    dest = forge.checkout(REPO, FEATURE, tmp_path / "wc")
    basic = "Basic " + base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()
    assert gitlab_emulator.state.auth_headers[-1] == basic
    config = (dest / ".git" / "config").read_text()
    assert TOKEN not in config and basic.split()[1] not in config


def test_fault_storm_every_write_lands_exactly_once(forge: GitLabAdapter, gitlab_emulator: GitLabEmulator) -> None:
    gitlab_emulator.arm(
        {"path_regex": "/repository/branches$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/repository/branches/", "method": "GET", "status": 429, "retry_after": 1},
        {"path_regex": "/repository/commits$", "status": "drop_after"},
        {"path_regex": "/repository/commits$", "status": 503, "count": 2},
        {"path_regex": "/merge_requests$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/merge_requests$", "method": "GET", "status": "drop", "count": 2},
        {"path_regex": "/merge_requests/\\d+$", "method": "PUT", "status": "drop_after"},
        {"path_regex": "/notes$", "method": "POST", "status": "drop_after"},
        {"path_regex": "/notes$", "method": "GET", "status": "slow", "delay": 0.2, "rate_limit_remaining": 3},
        {"path_regex": "/discussions$", "status": "drop_after"},
        {"path_regex": "/statuses/", "method": "POST", "status": "drop_after"},
        {"path_regex": "/merge$", "status": "drop_after"},
    )
    started = time.monotonic()
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="app/main.py", content="print('bye')\n")], "Bye", "k1")
    forge.commit_files(REPO, FEATURE, [FileChange(path="b.txt", content="b\n")], "Add b", "k2")
    pr = forge.open_pr(REPO, FEATURE, "main", "Storm", "", draft=True, workitem_id=None)
    forge.publish(pr.pr_id)
    forge.comment(pr.pr_id, "Plain", "c1")
    forge.comment(pr.pr_id, "On the line", "c2", path="app/main.py", line=1)
    forge.set_status(pr.pr_id, "tests", "pending")
    gitlab_emulator.arm({"path_regex": "/statuses/", "method": "POST", "status": "drop_after"})
    forge.set_status(pr.pr_id, "tests", "succeeded")  # a replayed finished state would be a second status
    merged = forge.merge(pr.pr_id)
    elapsed = time.monotonic() - started

    state = gitlab_emulator.state
    assert state.faults.pending() == 0 and elapsed < FAST.max_total_wait
    assert len(state.commits_created) == 2 and log(gitlab_emulator, FEATURE) == ["Add b", "Bye", "Initial commit"]
    assert len(next(iter(state.merge_requests.values()))) == 1
    assert [c.body for c in forge.comments(pr.pr_id)] == ["Plain", "On the line"]
    assert [(s["name"], s["status"]) for _, s in state.statuses] == [("tests", "success")]
    assert merged.status == "completed" and log(gitlab_emulator, "main")[0].startswith(f"Merge branch '{FEATURE}'")
    assert len(log(gitlab_emulator, "main")) == 2


def test_an_adapter_bound_to_the_tickets_repo_reads_its_iids_there(
    forge: GitLabAdapter, gitlab_emulator: GitLabEmulator, tmp_path: Path
) -> None:
    """Two projects both have MR !1; the adapter of a ticket's steps is bound to its repo and never guesses."""
    gitlab_emulator.seed_project("api", {"README.md": "# api\n"})
    for repo in (REPO, "api"):
        forge.ensure_branch(repo, FEATURE, "main")
        forge.open_pr(repo, FEATURE, "main", f"Demo {repo}", "", draft=False, workitem_id=None)
    for repo in (REPO, "api"):
        bound = GitLabAdapter(TENANT, gitlab_emulator.api_url, TOKEN, namespace="acme", repo=repo,
                              cache_dir=tmp_path / "mirrors", policy=FAST)
        pr = bound.get_pr(1)
        assert (pr.repo, pr.title) == (repo, f"Demo {repo}")
        bound.close()
