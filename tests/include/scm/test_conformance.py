"""What every ScmAdapter must do, run against each forge (`harness` in conftest.py: local, ado, github,
gitlab): idempotent writes, statuses that round trip, diffs, publishing, merges that a retry leaves as they
are, and abandons that say why once. What only one forge has stays in its own test file."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.scm.base import FileChange, ScmError
from tests.include.scm.conftest import REPO, SEED, Harness

FEATURE = "tp/demo-1"
REASON = "Nothing to change: main already has this change."


def draft_pr(h: Harness, branch: str, changes: list[FileChange], title: str = "Change") -> int:
    """A draft PR from `branch` carrying `changes` (GitHub opens no PR for a branch without commits)."""
    h.forge.ensure_branch(REPO, branch, "main")
    h.forge.commit_files(REPO, branch, changes, title, idempotency_key=f"{branch}-1")
    return h.forge.open_pr(REPO, branch, "main", title, "", draft=True, workitem_id=None).pr_id


def ready_pr(h: Harness, branch: str, changes: list[FileChange], title: str = "Change") -> int:
    return h.forge.publish(draft_pr(h, branch, changes, title)).pr_id


def test_ensure_branch_is_idempotent(harness: Harness) -> None:
    forge = harness.forge
    tip = forge.ensure_branch(REPO, FEATURE, "main")
    assert tip == forge.head(REPO, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a")], "Add a", "k1")
    moved = forge.head(REPO, FEATURE)
    assert forge.ensure_branch(REPO, FEATURE, "main") == moved != tip


def test_unknown_branch_is_named(harness: Harness) -> None:
    with pytest.raises(ScmError, match="unknown branch 'ghost'"):
        harness.forge.ensure_branch(REPO, FEATURE, "ghost")
    assert harness.forge.head(REPO, "ghost") is None


def test_commit_files_commits_once_per_key_and_never_empty(harness: Harness) -> None:
    forge = harness.forge
    forge.ensure_branch(REPO, FEATURE, "main")
    changes = [FileChange(path="app/main.py", content="print('bye')\n"), FileChange(path="app/util.py"),
               FileChange(path="docs/new.md", content="new\n"), FileChange(path="gone.txt")]
    first = forge.commit_files(REPO, FEATURE, changes, "Say bye", idempotency_key="demo-1/step-1")
    writes = harness.writes()
    assert forge.commit_files(REPO, FEATURE, changes, "Say bye", idempotency_key="demo-1/step-1") == first
    same = forge.commit_files(REPO, FEATURE, changes, "Say bye again", idempotency_key="demo-1/step-2")
    assert same == first and harness.writes() == writes == 1
    assert harness.subjects(FEATURE) == ["Say bye", "Initial commit"]
    assert harness.show(FEATURE, "app/main.py") == "print('bye')\n"
    files = harness.git("ls-tree", "-r", "--name-only", f"refs/heads/{FEATURE}").split()
    assert files == ["README.md", "app/main.py", "docs/new.md"]
    body = harness.git("log", "-1", "--format=%B", first)
    assert body.rstrip().endswith("Ticketpilot-Key: demo-1/step-1")
    assert forge.head(REPO, "main") != first


def test_a_key_already_merged_to_main_does_not_count(harness: Harness) -> None:
    forge = harness.forge
    forge.merge(ready_pr(harness, FEATURE, [FileChange(path="a.txt", content="a\n")]))
    forge.ensure_branch(REPO, "tp/next", "main")
    tip = forge.commit_files(REPO, "tp/next", [FileChange(path="a.txt", content="b\n")], "Again", f"{FEATURE}-1")
    assert tip != forge.head(REPO, "main") and harness.show("tp/next", "a.txt") == "b\n"


def test_commit_files_rejects_paths_outside_the_repo(harness: Harness) -> None:
    harness.forge.ensure_branch(REPO, FEATURE, "main")
    with pytest.raises(ScmError, match="must be relative"):
        harness.forge.commit_files(REPO, FEATURE, [FileChange(path="../x", content="x")], "Escape", "k")


def test_open_pr_twice_returns_the_same_pr_and_publish_is_idempotent(harness: Harness) -> None:
    forge = harness.forge
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a\n")], "Add a", "k1")
    pr = forge.open_pr(REPO, FEATURE, "main", "Demo", "Body", draft=True, workitem_id=7)
    again = forge.open_pr(REPO, FEATURE, "main", "Other title", "", draft=False, workitem_id=7)
    assert again == pr and pr.repo == REPO and (pr.title, pr.description) == ("Demo", "Body")
    assert pr.is_draft and pr.status == "active" and pr.workitem_id == 7
    assert pr.url == harness.pr_url(pr)
    assert forge.find_pr(REPO, FEATURE) == pr
    assert forge.find_pr(REPO, "tp/other") is None
    published = forge.publish(pr.pr_id)
    assert published.is_draft is False and forge.get_pr(pr.pr_id) == published
    assert forge.publish(pr.pr_id) == published  # publishing a ready PR changes nothing


def test_comment_is_idempotent_per_key(harness: Harness) -> None:
    forge = harness.forge
    pr_id = draft_pr(harness, FEATURE, [FileChange(path="app/main.py", content="print('bye')\n")])
    first = forge.comment(pr_id, "Looks good", "review-1", path="app/main.py", line=1)
    assert forge.comment(pr_id, "Looks good (retry)", "review-1") == first
    forge.comment(pr_id, "Second thought", "review-2")
    assert [c.body for c in forge.comments(pr_id)] == ["Looks good", "Second thought"]
    assert first.path == "app/main.py" and first.line == 1


def test_statuses_round_trip_and_keep_the_latest_per_context(harness: Harness) -> None:
    forge = harness.forge
    pr_id = draft_pr(harness, FEATURE, [FileChange(path="a.txt", content="a\n")])
    forge.set_status(pr_id, "tests", "pending")
    forge.set_status(pr_id, "tests", "pending")  # a retried step
    forge.set_status(pr_id, "lint", "succeeded")
    forge.set_status(pr_id, "tests", "failed", "2 failures")
    forge.set_status(pr_id, "policy", "error")
    assert forge.statuses(pr_id) == {"lint": "succeeded", "policy": "error", "tests": "failed"}
    with pytest.raises(ScmError, match="not one of"):
        forge.set_status(pr_id, "tests", "green")


def test_diff_shows_the_source_changes(harness: Harness) -> None:
    pr_id = ready_pr(harness, FEATURE, [FileChange(path="app/util.py", content="X = 2\n")])
    diff = harness.forge.diff(pr_id)
    assert "-X = 1" in diff and "+X = 2" in diff


def test_merge_squashes_onto_main_and_a_merged_pr_stays_as_it_is(harness: Harness) -> None:
    forge = harness.forge
    forge.ensure_branch(REPO, FEATURE, "main")
    forge.commit_files(REPO, FEATURE, [FileChange(path="a.txt", content="a\n")], "Add a", "k1")
    forge.commit_files(REPO, FEATURE, [FileChange(path="b.txt", content="b\n")], "Add b", "k2")
    pr = forge.open_pr(REPO, FEATURE, "main", "Add a and b", "", draft=False, workitem_id=3)
    merged = forge.merge(pr.pr_id)
    assert merged.status == "completed" and merged.merge_commit == forge.head(REPO, "main")
    assert harness.show("main", "a.txt") == "a\n" and harness.show("main", "b.txt") == "b\n"
    assert forge.merge(pr.pr_id) == merged
    assert forge.head(REPO, FEATURE) is not None  # the source branch is kept
    assert forge.find_pr(REPO, FEATURE) == merged and merged.workitem_id == 3
    with pytest.raises(ScmError, match="strategy 'rebase' is not supported"):
        forge.merge(pr.pr_id, "rebase")  # type: ignore[arg-type]


def test_merge_refuses_a_draft_and_failing_statuses(harness: Harness) -> None:
    forge = harness.forge
    pr_id = draft_pr(harness, FEATURE, [FileChange(path="a.txt", content="a\n")])
    with pytest.raises(ScmError, match="draft; publish it first"):
        forge.merge(pr_id)
    forge.publish(pr_id)
    forge.set_status(pr_id, "tests", "succeeded")
    forge.set_status(pr_id, "policy", "error")
    with pytest.raises(ScmError, match="failing statuses: policy"):
        forge.merge(pr_id)
    forge.set_status(pr_id, "policy", "succeeded")
    assert forge.merge(pr_id).status == "completed"


def test_checkout_clones_and_refreshes(harness: Harness, tmp_path: Path) -> None:
    forge = harness.forge
    forge.ensure_branch(REPO, FEATURE, "main")
    dest = forge.checkout(REPO, FEATURE, tmp_path / "wc")
    assert (dest / "app" / "main.py").read_text() == SEED["app/main.py"]
    (dest / "README.md").write_text("local edit")
    (dest / "scratch.txt").write_text("untracked")
    forge.commit_files(REPO, FEATURE, [FileChange(path="new.txt", content="new\n")], "Add new", "k1")
    assert forge.checkout(REPO, FEATURE, dest) == dest
    assert (dest / "new.txt").read_text() == "new\n"
    assert (dest / "README.md").read_text() == SEED["README.md"]
    assert not (dest / "scratch.txt").exists()
    with pytest.raises(ScmError, match="unknown branch"):
        forge.checkout(REPO, "ghost", tmp_path / "other")


def test_abandon_says_why_once_and_closes_without_merging(harness: Harness) -> None:
    forge = harness.forge
    pr_id = draft_pr(harness, FEATURE, [FileChange(path="a.txt", content="a\n")])
    main = forge.head(REPO, "main")
    abandoned = forge.abandon(pr_id, REASON, "demo-1/abandon")
    assert abandoned.status == "abandoned" and abandoned.merge_commit is None
    assert forge.get_pr(pr_id) == abandoned
    assert forge.abandon(pr_id, REASON, "demo-1/abandon") == abandoned  # a retried step
    assert forge.abandon(pr_id, "Another reason", "demo-1/abandon-2") == abandoned  # closed stays closed, unsaid
    assert [c.body for c in forge.comments(pr_id)] == [REASON]
    assert forge.head(REPO, "main") == main and forge.head(REPO, FEATURE) is not None
    with pytest.raises(ScmError, match="abandoned|closed"):
        forge.merge(pr_id)


def test_abandon_after_its_comment_landed_posts_it_once(harness: Harness) -> None:
    forge = harness.forge
    pr_id = draft_pr(harness, FEATURE, [FileChange(path="a.txt", content="a\n")])
    forge.comment(pr_id, REASON, "demo-1/abandon")  # a first attempt that died before closing the PR
    assert forge.abandon(pr_id, REASON, "demo-1/abandon").status == "abandoned"
    assert [c.body for c in forge.comments(pr_id)] == [REASON]


def test_abandon_refuses_a_merged_pr_and_leaves_it_as_it_is(harness: Harness) -> None:
    forge = harness.forge
    merged = forge.merge(ready_pr(harness, FEATURE, [FileChange(path="a.txt", content="a\n")]))
    with pytest.raises(ScmError, match="already merged; a merged PR cannot be abandoned"):
        forge.abandon(merged.pr_id, REASON, "demo-1/abandon")
    assert forge.get_pr(merged.pr_id) == merged and forge.comments(merged.pr_id) == []


def test_find_pr_returns_the_abandoned_pr_until_a_new_one_opens(harness: Harness) -> None:
    """What dev.py relies on: a found PR that is abandoned makes it open a new one from the same branch."""
    forge = harness.forge
    pr_id = draft_pr(harness, FEATURE, [FileChange(path="a.txt", content="a\n")])
    abandoned = forge.abandon(pr_id, REASON, "demo-1/abandon")
    assert forge.find_pr(REPO, FEATURE) == abandoned
    again = forge.open_pr(REPO, FEATURE, "main", "Change, again", "", draft=True, workitem_id=None)
    assert again.pr_id != pr_id and again.status == "active"
    assert forge.find_pr(REPO, FEATURE) == again and forge.get_pr(pr_id) == abandoned
