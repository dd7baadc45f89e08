"""Docs describe what the merge carried: the merge commit's files, never the plan or Dev's first diff."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from include.agents import dev, docs
from include.agents.errors import AgentError
from include.agents.workspace import checked_out
from include.contracts import AgentRole, AgentTask, Ticket
from include.demo.repo import DEMO_REPO
from include.scm import FileChange
from include.scm.git import run_git
from include.scm.local import LocalForge

SECRET = 103


def task(ticket: Ticket, role: AgentRole, **upstream: object) -> AgentTask:
    return AgentTask(role=role, ticket=ticket, run_id="manual__1",
                     upstream={k: v if isinstance(v, dict) else v.model_dump(mode="json")  # type: ignore[union-attr]
                               for k, v in upstream.items()})


def test_the_docs_read_the_merge_commits_files(forge: LocalForge, demo_ticket: Callable[..., Ticket]) -> None:
    ticket = demo_ticket(SECRET)
    dev_result = dev.run(task(ticket, AgentRole.DEV))
    forge.commit_files(DEMO_REPO, ticket.branch, [FileChange(path="NOTES.md", content="late fix round\n")],
                       "a fix round", "acme-103:test:r1:fix1")
    merged = forge.merge(forge.publish(dev_result.pr_id).pr_id)
    with checked_out(forge, DEMO_REPO, "main") as workdir:
        files = docs.merged_files(workdir, merged.merge_commit or "")
    assert "NOTES.md" in files, "the fix round's file merged, so the docs see it"
    assert set(dev_result.files_changed) <= set(files)


def test_a_merge_commit_that_changed_nothing_gets_no_changelog_line(
        forge: LocalForge, demo_ticket: Callable[..., Ticket]) -> None:
    ticket = demo_ticket(SECRET)
    dev_result = dev.run(task(ticket, AgentRole.DEV))
    forge.merge(forge.publish(dev_result.pr_id).pr_id)
    with pytest.raises(AgentError, match="changed no file: there is nothing to document"):
        docs.run(task(ticket, AgentRole.DOCS, dev=dev_result, merge={"merge_commit": _empty_commit(forge)}))


def _empty_commit(forge: LocalForge) -> str:
    """A commit on main whose tree equals its parent's: what a squash of an already-landed change would be."""
    bare = forge.repo_path(DEMO_REPO)
    tree = run_git("rev-parse", "main^{tree}", cwd=bare).stdout.strip()
    sha = run_git("commit-tree", tree, "-p", "main", "-m", "empty squash", cwd=bare).stdout.strip()
    run_git("update-ref", "refs/heads/main", sha, cwd=bare)
    return sha
