"""The SCM interface every adapter implements. Every write is idempotent: retrying it after a crash
changes nothing that already happened (branches are looked up before creation, PRs by source branch,
commits by a `Ticketpilot-Key` trailer, comments by an idempotency key, merges and abandons by PR status)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel


class ScmError(RuntimeError):
    """An SCM operation failed in a way a retry will not fix; the message says what to do."""


class FileChange(BaseModel):
    path: str
    content: str | None = None  # None deletes the file


class PullRequest(BaseModel):
    pr_id: int
    repo: str
    source_branch: str
    target_branch: str
    title: str
    description: str = ""
    is_draft: bool = True
    status: Literal["active", "completed", "abandoned"] = "active"
    workitem_id: int | None = None
    merge_commit: str | None = None
    url: str = ""


class Comment(BaseModel):
    comment_id: int
    author: str
    body: str
    path: str | None = None
    line: int | None = None


class ScmAdapter(Protocol):
    tenant: str

    def default_branch(self, repo: str) -> str: ...

    def head(self, repo: str, branch: str) -> str | None:
        """Commit id at the tip of `branch`, None when the branch does not exist."""

    def ensure_branch(self, repo: str, branch: str, from_branch: str) -> str:
        """Create `branch` at `from_branch`'s tip unless it exists; return its tip."""

    def checkout(self, repo: str, branch: str, dest: Path) -> Path:
        """A working copy of `branch` at `dest` (read/run only; writes go through commit_files)."""

    def commit_files(
        self, repo: str, branch: str, changes: list[FileChange], message: str, idempotency_key: str
    ) -> str:
        """Commit `changes` on top of `branch`; a commit carrying the same key is not made twice."""

    def find_pr(self, repo: str, source_branch: str) -> PullRequest | None: ...

    def open_pr(
        self,
        repo: str,
        source_branch: str,
        target_branch: str,
        title: str,
        description: str,
        *,
        draft: bool,
        workitem_id: int | None,
    ) -> PullRequest:
        """Open a PR, or return the active one from the same source branch."""

    def get_pr(self, pr_id: int) -> PullRequest: ...

    def publish(self, pr_id: int) -> PullRequest:
        """Draft → ready for review."""

    def comment(
        self, pr_id: int, body: str, idempotency_key: str, *, path: str | None = None, line: int | None = None
    ) -> Comment: ...

    def comments(self, pr_id: int) -> list[Comment]: ...

    def set_status(self, pr_id: int, context: str, state: str, description: str = "") -> None: ...

    def statuses(self, pr_id: int) -> dict[str, str]: ...

    def merge(self, pr_id: int, strategy: Literal["squash"] = "squash") -> PullRequest:
        """Complete the PR; merging a completed PR returns it unchanged."""

    def abandon(self, pr_id: int, reason: str, idempotency_key: str) -> PullRequest:
        """Close the PR without merging, `reason` posted first as a comment under `idempotency_key`, so a PR
        that should not merge (its change already landed, or nothing is left to change) says why. An
        abandoned PR is returned unchanged (no second comment); a completed one is refused with ScmError.
        `find_pr` then returns it with status "abandoned" until a new PR opens from the same branch."""

    def diff(self, pr_id: int) -> str:
        """Unified diff of the PR's source branch against the target's merge base."""


@runtime_checkable
class CommentsOnWorkItems(Protocol):
    """The optional part of an adapter whose forge holds the ticket's work item (Azure DevOps): a ticket that
    ends without a merge ("nothing to change", refused) explains itself on the board, its state untouched."""

    def comment_work_item(self, workitem_id: int, text: str, idempotency_key: str) -> None:
        """Post `text` (plain text; the adapter escapes it for its board) once per `idempotency_key` on the work
        item; a retry finds the earlier comment."""
