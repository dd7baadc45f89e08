"""Translations between the SCM contract and GitLab's vocabulary: file changes to commit actions, merge
requests to PullRequests (draft prefix, hidden work item marker, states), notes to Comments, and our four
status states to GitLab's."""

from __future__ import annotations

import re

from include.scm.base import Comment, FileChange, PullRequest
from include.scm.changes import plan
from include.scm.git import BareRepo
from include.scm.gitlab.models import CommitAction, MergeRequest, Note, StatusState
from include.scm.markers import WORKITEM_LINE, without_markers, workitem_of

_DRAFT = re.compile(r"^\s*(?:\[draft\]|\(draft\)|draft:)\s*", re.IGNORECASE)  # GitLab's draft title prefixes
_PR_STATUS = {"opened": "active", "locked": "active", "merged": "completed", "closed": "abandoned"}
# Our four states onto GitLab's and back; `canceled` carries `error` so every state survives a round trip.
TO_GITLAB: dict[str, StatusState] = {"pending": "pending", "succeeded": "success", "failed": "failed",
                                     "error": "canceled"}
_FROM_GITLAB = {"success": "succeeded", "skipped": "succeeded", "failed": "failed", "canceled": "error"}


def undraft(title: str) -> str:
    return _DRAFT.sub("", title)


def from_gitlab_status(status: str) -> str:
    """Any GitLab status (CI jobs report more than the API accepts) as one of ours: unfinished is pending."""
    return _FROM_GITLAB.get(status, "pending")


def to_pull_request(repo: str, raw: MergeRequest) -> PullRequest:
    description = raw.description or ""
    merged = raw.state == "merged"
    return PullRequest(
        pr_id=raw.iid,
        repo=repo,
        source_branch=raw.source_branch,
        target_branch=raw.target_branch,
        title=undraft(raw.title),
        description=WORKITEM_LINE.sub("", description).rstrip(),
        is_draft=raw.draft,
        status=_PR_STATUS[raw.state],  # type: ignore[arg-type]
        workitem_id=workitem_of(description),
        merge_commit=(raw.merge_commit_sha or raw.squash_commit_sha) if merged else None,
        url=raw.web_url,
    )


def to_comment(note: Note) -> Comment:
    position = note.position
    return Comment(
        comment_id=note.id,
        author=note.author.name,
        body=without_markers(note.body, "key="),
        path=position.new_path if position else None,
        line=position.new_line if position else None,
    )


def commit_actions(mirror: BareRepo, tip: str, changes: list[FileChange]) -> list[CommitAction]:
    """FileChanges as commits-API actions against `tip`: create or update by whether the file exists, delete
    only what exists, and nothing for a file whose content is already as asked (see include/scm/changes.py)."""
    return [CommitAction(action="delete", file_path=e.path) if e.content is None
            else CommitAction(action="update" if e.exists else "create", file_path=e.path, content=e.content,
                              encoding="text")
            for e in plan(mirror, tip, changes)]
