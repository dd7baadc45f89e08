"""AdoAdapter against the emulator (real HTTP, real git): the conformance checks test_local.py makes of the
local forge, plus what only ADO has (the credential in git's header, draft completion refused by ADO)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.scm import adapter_for
from include.scm.ado import AdoAdapter, PatAuth, RetryPolicy
from include.scm.base import FileChange, ScmError
from include.scm.git import run_git
from tests.emulators.ado.server import EmulatorServer

TENANT = "acme"
REPO = "shop"
PAT = "s3cret-pat"
SEED = {"README.md": "# shop\n", "app/main.py": "print('hello')\n", "app/util.py": "X = 1\n"}
FEATURE = "tp/demo-1"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=5)


@pytest.fixture
def forge(ado_emulator: EmulatorServer, tmp_path: Path) -> Iterator[AdoAdapter]:
    """An adapter for a project with one seeded repository."""
    ado_emulator.seed_repo(REPO, SEED)
    adapter = AdoAdapter(TENANT, ado_emulator.org_url, "proj", PatAuth(PAT), cache_dir=tmp_path / "mirrors",
                         policy=FAST, merge_wait=2)
    yield adapter
    adapter.close()


def git(emulator: EmulatorServer, *args: str) -> str:
    """Read the emulator's bare repository directly, bypassing the adapter under test."""
    return run_git(*args, cwd=emulator.state.repos[REPO].git.path).stdout


def log(emulator: EmulatorServer, branch: str) -> list[str]:
    return git(emulator, "log", "--format=%s", f"refs/heads/{branch}").splitlines()


def show(emulator: EmulatorServer, branch: str, path: str) -> str:
    return git(emulator, "show", f"refs/heads/{branch}:{path}")


def ready_pr(forge: AdoAdapter, branch: str, changes: list[FileChange], title: str = "Change") -> int:
    forge.ensure_branch(REPO, branch, "main")
    forge.commit_files(REPO, branch, changes, title, idempotency_key=f"{branch}-1")
    pr = forge.open_pr(REPO, branch, "main", title, "", draft=True, workitem_id=None)
    return forge.publish(pr.pr_id).pr_id


def test_adapter_for_builds_it_from_the_tenant_connection(
    ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = f'{{"conn_type": "azure_devops", "host": "{ado_emulator.org_url}", "password": "{PAT}", ' \
           '"extra": {"project": "proj"}}'
    monkeypatch.setenv(f"AIRFLOW_CONN_ADO_{TENANT.upper()}", conn)
    ado_emulator.seed_repo(REPO, SEED)
    forge = adapter_for(TENANT, "ado")
    assert isinstance(forge, AdoAdapter) and forge.tenant == TENANT
    assert forge.default_branch(REPO) == "main"
    assert ado_emulator.state.auth_headers[-1] == "Basic " + base64.b64encode(f":{PAT}".encode()).decode()


def test_unknown_repo_branch_and_pr_name_what_is_missing(forge: AdoAdapter) -> None:
    with pytest.raises(ScmError, match="reading the repository failed .*TF401019.*Check that the repository"):
        forge.default_branch("nope")
    with pytest.raises(ScmError, match="unknown branch 'ghost'"):
        forge.ensure_branch(REPO, FEATURE, "ghost")
    with pytest.raises(ScmError, match="TF401180"):
        forge.get_pr(4242)
    assert forge.head(REPO, "ghost") is None


def test_ensure_branch_is_idempotent(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    tip = forge.ensure_branch(REPO, FEATURE, "main")
    assert tip == forge.head(REPO, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a")], "Add a", "k1")
    moved = forge.head(REPO, FEATURE)
    assert forge.ensure_branch(REPO, FEATURE, "main") == moved != tip


def test_commit_files_commits_once_per_key_and_never_empty(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    changes = [FileChange(path="app/main.py", content="print('bye')\n"), FileChange(path="app/util.py"),
               FileChange(path="docs/new.md", content="new\n"), FileChange(path="gone.txt")]
    first = forge.commit_files(REPO, FEATURE, changes, "Say bye", idempotency_key="demo-1/step-1")
    pushes = len(ado_emulator.state.pushes)
    assert forge.commit_files(REPO, FEATURE, changes, "Say bye", idempotency_key="demo-1/step-1") == first
    same = forge.commit_files(REPO, FEATURE, changes, "Say bye again", idempotency_key="demo-1/step-2")
    assert same == first and len(ado_emulator.state.pushes) == pushes
    assert log(ado_emulator, FEATURE) == ["Say bye", "Initial commit"]
    assert show(ado_emulator, FEATURE, "app/main.py") == "print('bye')\n"
    files = git(ado_emulator, "ls-tree", "-r", "--name-only", f"refs/heads/{FEATURE}").split()
    assert files == ["README.md", "app/main.py", "docs/new.md"]
    body = git(ado_emulator, "log", "-1", "--format=%B", first)
    assert body.rstrip().endswith("Ticketpilot-Key: demo-1/step-1")
    assert forge.head(REPO, "main") != first


def test_a_key_already_merged_to_main_does_not_count(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    pr_id = ready_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")])
    forge.merge(pr_id)
    forge.ensure_branch(REPO, "tp/next", "main")
    tip = forge.commit_files(REPO, "tp/next", [FileChange(path="a.txt", content="b\n")], "Again", f"{FEATURE}-1")
    assert tip != forge.head(REPO, "main") and show(ado_emulator, "tp/next", "a.txt") == "b\n"


def test_commit_files_rejects_paths_outside_the_repo(forge: AdoAdapter) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    with pytest.raises(ScmError, match="must be relative"):
        forge.commit_files(REPO, FEATURE, [FileChange(path="../x", content="x")], "Escape", "k")


def test_open_pr_twice_returns_the_same_pr(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "Body", draft=True, workitem_id=7)
    again = forge.open_pr(REPO, FEATURE, "main", "Other title", "", draft=False, workitem_id=7)
    assert again == pr and len(ado_emulator.state.pull_requests) == 1
    assert pr.is_draft and pr.status == "active" and pr.workitem_id == 7
    assert pr.url == f"{ado_emulator.org_url}/proj/_git/{REPO}/pullrequest/{pr.pr_id}"
    assert forge.find_pr(REPO, FEATURE) == pr
    assert forge.find_pr(REPO, "tp/other") is None
    assert forge.publish(pr.pr_id).is_draft is False


def test_comment_is_idempotent_per_key(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=True, workitem_id=None)
    first = forge.comment(pr.pr_id, "Looks good", "review-1", path="app/main.py", line=1)
    assert forge.comment(pr.pr_id, "Looks good (retry)", "review-1") == first
    forge.comment(pr.pr_id, "Second thought", "review-2")
    assert [c.body for c in forge.comments(pr.pr_id)] == ["Looks good", "Second thought"]
    assert first.path == "app/main.py" and first.line == 1 and first.author == "Ticketpilot Bot"
    content = ado_emulator.state.threads[pr.pr_id][0]["comments"][0]["content"]
    assert content.endswith("<!-- ticketpilot:key=review-1 -->")


def test_statuses_keep_the_latest_per_context(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=True, workitem_id=None)
    forge.set_status(pr.pr_id, "tests", "pending")
    forge.set_status(pr.pr_id, "lint", "succeeded")
    forge.set_status(pr.pr_id, "tests", "failed", "2 failures")
    assert forge.statuses(pr.pr_id) == {"lint": "succeeded", "tests": "failed"}
    assert {s["context"]["genre"] for s in ado_emulator.state.statuses[pr.pr_id]} == {"ticketpilot"}
    with pytest.raises(ScmError, match="not one of"):
        forge.set_status(pr.pr_id, "tests", "green")


def test_diff_and_changed_files_come_from_the_mirror(forge: AdoAdapter) -> None:
    pr_id = ready_pr(forge, FEATURE, [FileChange(path="app/util.py", content="X = 2\n")])
    diff = forge.diff(pr_id)
    assert "-X = 1" in diff and "+X = 2" in diff
    assert forge.changed_files(pr_id) == ["app/util.py"]


def test_merge_squashes_onto_main_and_is_idempotent(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    main = forge.head(REPO, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a\n")], "Add a", "k1")
    forge.commit_files(REPO, FEATURE, [FileChange(path="b.txt", content="b\n")], "Add b", "k2")
    pr = forge.open_pr(REPO, FEATURE, "main", "Add a and b", "", draft=False, workitem_id=None)
    merged = forge.merge(pr.pr_id)
    assert merged.status == "completed" and merged.merge_commit == forge.head(REPO, "main")
    assert git(ado_emulator, "rev-parse", f"{merged.merge_commit}^@").split() == [main]  # one parent: a squash
    assert show(ado_emulator, "main", "a.txt") == "a\n" and show(ado_emulator, "main", "b.txt") == "b\n"
    assert forge.merge(pr.pr_id) == merged
    assert forge.head(REPO, FEATURE) is not None  # the source branch is kept
    assert forge.find_pr(REPO, FEATURE) == merged


def test_merge_refuses_a_draft_and_failing_statuses(forge: AdoAdapter) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a\n")], "Add a", "k1")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=True, workitem_id=None)
    with pytest.raises(ScmError, match="draft; publish it first"):
        forge.merge(pr.pr_id)
    forge.publish(pr.pr_id)
    forge.set_status(pr.pr_id, "policy", "error")
    with pytest.raises(ScmError, match="failing statuses: policy"):
        forge.merge(pr.pr_id)
    forge.set_status(pr.pr_id, "policy", "succeeded")
    assert forge.merge(pr.pr_id).status == "completed"


def test_merge_conflict_is_reported_and_changes_nothing(forge: AdoAdapter) -> None:
    first = ready_pr(forge, "tp/one", [FileChange(path="app/main.py", content="print('one')\n")])
    second = ready_pr(forge, "tp/two", [FileChange(path="app/main.py", content="print('two')\n")])
    forge.merge(first)
    tip = forge.head(REPO, "main")
    with pytest.raises(ScmError, match="completing a pull request failed .*merge conflicts"):
        forge.merge(second)
    assert forge.head(REPO, "main") == tip and forge.get_pr(second).status == "active"


def test_checkout_sends_the_credential_only_as_a_header(
    forge: AdoAdapter, ado_emulator: EmulatorServer, tmp_path: Path
) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    dest = forge.checkout(REPO, FEATURE, tmp_path / "wc")
    assert (dest / "app" / "main.py").read_text() == SEED["app/main.py"]
    assert ado_emulator.state.auth_headers[-1] == "Basic " + base64.b64encode(f":{PAT}".encode()).decode()
    assert PAT not in (dest / ".git" / "config").read_text()
    assert base64.b64encode(f":{PAT}".encode()).decode() not in (dest / ".git" / "config").read_text()
    (dest / "README.md").write_text("local edit")
    (dest / "scratch.txt").write_text("untracked")
    forge.commit_files(REPO, FEATURE, [FileChange(path="new.txt", content="new\n")], "Add new", "k1")
    assert forge.checkout(REPO, FEATURE, dest) == dest
    assert (dest / "new.txt").read_text() == "new\n"
    assert (dest / "README.md").read_text() == SEED["README.md"]
    assert not (dest / "scratch.txt").exists()
    with pytest.raises(ScmError, match="unknown branch"):
        forge.checkout(REPO, "ghost", tmp_path / "other")


def test_resolve_work_item_moves_it_once_with_the_comment(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    item = ado_emulator.seed_work_item({"System.Title": "Fix lint"})
    forge.resolve_work_item(item["id"], "<p>merged</p>")
    forge.resolve_work_item(item["id"], "<p>merged</p>")  # a retried merge step
    stored = ado_emulator.state.work_items[item["id"]]
    assert (stored["fields"]["System.State"], stored["rev"]) == ("Resolved", 2)
    assert [c["text"] for c in ado_emulator.state.comments[item["id"]]] == ["<p>merged</p>"]


def test_resolve_work_item_rereads_after_a_concurrent_edit(
    forge: AdoAdapter, ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = ado_emulator.state
    item = ado_emulator.seed_work_item({"System.Title": "Fix lint"})
    read = forge.client.get_work_item
    reads: list[int] = []

    def read_then_someone_edits(workitem_id: int, *args: object) -> object:
        found = read(workitem_id, *args)
        if not reads:
            stored = state.work_items[workitem_id]
            state.update_work_item(stored, {**stored["fields"], "System.Tags": "edited"}, [])
        reads.append(found.rev)
        return found

    monkeypatch.setattr(forge.client, "get_work_item", read_then_someone_edits)
    forge.resolve_work_item(item["id"], "done")
    stored = state.work_items[item["id"]]
    assert (reads[0], reads[-1], stored["rev"]) == (1, 2, 3)
    assert (stored["fields"]["System.State"], stored["fields"]["System.Tags"]) == ("Resolved", "edited")
