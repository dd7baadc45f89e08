"""AdoAdapter against the emulator (real HTTP, real git): what only ADO has, beyond the contract
test_conformance.py checks of every forge (the credential in git's header, draft completion refused by ADO)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.scm import adapter_for
from include.scm.ado import AdoAdapter, AdoError, PatAuth, RetryPolicy
from include.scm.base import CommentsOnWorkItems, FileChange, ScmError
from include.scm.git import run_git
from include.scm.local import LocalForge
from tests.emulators.ado.server import EmulatorServer
from tests.include.scm.conftest import REPO, SEED, TENANT

PAT = "s3cret-pat"
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


def test_open_pr_twice_creates_one_pull_request(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "Body", draft=True, workitem_id=7)
    assert forge.open_pr(REPO, FEATURE, "main", "Other title", "", draft=False, workitem_id=7) == pr
    assert len(ado_emulator.state.pull_requests) == 1


def test_comment_opens_a_thread_keyed_by_a_hidden_line(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=True, workitem_id=None)
    first = forge.comment(pr.pr_id, "Looks good", "review-1", path="app/main.py", line=1)
    assert first.author == "Ticketpilot Bot"
    content = ado_emulator.state.threads[pr.pr_id][0]["comments"][0]["content"]
    assert content.endswith("<!-- ticketpilot:key=review-1 -->")


def test_statuses_carry_our_genre(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=True, workitem_id=None)
    forge.set_status(pr.pr_id, "tests", "pending")
    forge.set_status(pr.pr_id, "lint", "succeeded")
    assert {s["context"]["genre"] for s in ado_emulator.state.statuses[pr.pr_id]} == {"ticketpilot"}



def test_merge_is_a_squash_with_one_parent(forge: AdoAdapter, ado_emulator: EmulatorServer) -> None:
    main = forge.head(REPO, "main")
    merged = forge.merge(ready_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")]))
    assert git(ado_emulator, "rev-parse", f"{merged.merge_commit}^@").split() == [main]


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
    assert ado_emulator.state.auth_headers[-1] == "Basic " + base64.b64encode(f":{PAT}".encode()).decode()
    assert PAT not in (dest / ".git" / "config").read_text()
    assert base64.b64encode(f":{PAT}".encode()).decode() not in (dest / ".git" / "config").read_text()


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


def test_comment_work_item_posts_once_per_key_and_leaves_the_state(
    forge: AdoAdapter, ado_emulator: EmulatorServer
) -> None:
    item = ado_emulator.seed_work_item({"System.Title": "Bump timeout", "System.State": "Active"})
    forge.comment_work_item(item["id"], "Nothing to change: main already has it.", "7/nothing-to-change")
    forge.comment_work_item(item["id"], "Nothing to change (retry).", "7/nothing-to-change")
    forge.comment_work_item(item["id"], "Something else: a < b & c.", "7/nothing-to-change-2")
    stored = ado_emulator.state.work_items[item["id"]]
    assert (stored["fields"]["System.State"], stored["rev"]) == ("Active", 1)
    texts = [c["text"] for c in ado_emulator.state.comments[item["id"]]]
    assert texts == ["<p>Nothing to change: main already has it.</p><p><small>Ticketpilot key: 7/nothing-to-change"
                     "</small></p>",
                     "<p>Something else: a &lt; b &amp; c.</p><p><small>Ticketpilot key: 7/nothing-to-change-2"
                     "</small></p>"], "plain text, escaped for the board"


def test_comment_work_item_finds_its_comment_past_the_first_page(
    forge: AdoAdapter, ado_emulator: EmulatorServer
) -> None:
    """ADO pages comments (200 by default); the key is looked for on every page, after markup is stripped
    the way a sanitiser might rewrite it."""
    item = ado_emulator.seed_work_item({"System.Title": "Bump timeout"})
    state = ado_emulator.state
    for n in range(201):
        state.add_comment(item["id"], f"<div>note {n}</div>")
    state.add_comment(item["id"], "<div>Refused.</div><div>Ticketpilot&nbsp;key: 7/refused</div>")
    state.add_comment(item["id"], "<div>Ticketpilot key: 7/refused-twice</div>")
    forge.comment_work_item(item["id"], "<p>Refused.</p>", "7/refused")
    assert len(state.comments[item["id"]]) == 203
    forge.comment_work_item(item["id"], "<p>Refused.</p>", "7/ref")  # a key that is only a prefix is another key
    assert len(state.comments[item["id"]]) == 204


def test_only_forges_with_a_board_comment_on_work_items(forge: AdoAdapter, tmp_path: Path) -> None:
    assert isinstance(forge, CommentsOnWorkItems)
    assert not isinstance(LocalForge(TENANT, tmp_path, "postgresql://unused"), CommentsOnWorkItems)
    with pytest.raises(ScmError, match="must be one non-empty line"):
        forge.comment_work_item(1, "text", "two\nlines")


def test_abandon_is_a_status_patch_and_ado_refuses_to_complete_it(
    forge: AdoAdapter, ado_emulator: EmulatorServer
) -> None:
    pr_id = ready_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")])
    abandoned = forge.abandon(pr_id, "Already on main.", "1/abandon")
    stored = ado_emulator.state.pull_requests[pr_id]
    assert abandoned.status == stored["status"] == "abandoned" and "closedDate" in stored
    source = forge.head(REPO, FEATURE)
    with pytest.raises(AdoError, match="is abandoned and cannot be completed"):
        forge.client.complete_pr(REPO, pr_id, str(source))
