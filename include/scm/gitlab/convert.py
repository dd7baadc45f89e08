"""Translations between the SCM contract and GitLab's vocabulary: file changes to commit actions, merge
requests to PullRequests (draft prefix, hidden work item marker, states), notes to Comments, and our four
status states to GitLab's."""

from __future__ import annotations

import re

from include.scm.base import Comment, FileChange, PullRequest
from include.scm.git import BareRepo, check_path
from include.scm.gitlab.models import CommitAction, MergeRequest, Note, StatusState

KEY_MARKER = "<!-- ticketpilot:key={} -->"
WORKITEM_MARKER = "<!-- ticketpilot:workitem={} -->"
_WORKITEM_LINE = re.compile(r"^<!-- ticketpilot:workitem=(\d+) -->$", re.MULTILINE)
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
    found = _WORKITEM_LINE.search(description)
    merged = raw.state == "merged"
    return PullRequest(
        pr_id=raw.iid,
        repo=repo,
        source_branch=raw.source_branch,
        target_branch=raw.target_branch,
        title=undraft(raw.title),
        description=_WORKITEM_LINE.sub("", description).rstrip(),
        is_draft=raw.draft,
        status=_PR_STATUS[raw.state],  # type: ignore[arg-type]
        workitem_id=int(found[1]) if found else None,
        merge_commit=(raw.merge_commit_sha or raw.squash_commit_sha) if merged else None,
        url=raw.web_url,
    )


def to_comment(note: Note) -> Comment:
    body = "\n".join(line for line in note.body.splitlines() if not line.startswith("<!-- ticketpilot:key="))
    position = note.position
    return Comment(
        comment_id=note.id,
        author=note.author.name,
        body=body.rstrip(),
        path=position.new_path if position else None,
        line=position.new_line if position else None,
    )


def commit_actions(mirror: BareRepo, tip: str, changes: list[FileChange]) -> list[CommitAction]:
    """FileChanges as commits-API actions against `tip`: create or update by whether the file exists, delete
    only what exists, and nothing for a file whose content is already as asked."""
    paths = [check_path(c.path) for c in changes]
    listed = mirror.git("ls-tree", "-z", tip, "--", *paths) if paths else ""
    blobs = {}
    for entry in filter(None, listed.split("\0")):
        meta, path = entry.split("\t", 1)
        if meta.split()[1] == "blob":
            blobs[path] = meta.split()[2]
    actions = []
    for change in changes:
        blob = blobs.get(change.path)
        if change.content is None:
            if blob is not None:
                actions.append(CommitAction(action="delete", file_path=change.path))
        elif blob is None:
            actions.append(CommitAction(action="create", file_path=change.path, content=change.content,
                                        encoding="text"))
        elif mirror.git("hash-object", "--stdin", stdin=change.content).strip() != blob:
            actions.append(CommitAction(action="update", file_path=change.path, content=change.content,
                                        encoding="text"))
    return actions
