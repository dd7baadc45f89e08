"""Pydantic models of the GitLab REST v4 payloads the client reads and sends. Field names are GitLab's own
(snake_case already); unknown fields are ignored, so a richer answer from a newer GitLab never breaks a read.
Only what the adapter uses is required: the contract test checks those fields against GitLab's documented
examples and against the emulator."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

MergeRequestState = Literal["opened", "closed", "locked", "merged"]
StatusState = Literal["pending", "running", "success", "failed", "canceled", "skipped"]
# Every state a commit status may report; CI jobs add these to the five an API client may post.
ReportedStatus = Literal[
    "created", "waiting_for_resource", "preparing", "pending", "running", "success", "failed", "canceled",
    "skipped", "manual", "scheduled",
]


class GitLabModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ErrorBody(GitLabModel):
    """GitLab's error shapes: {"message": str | [str] | {field: [str]}} from the API, {"error": str} from
    parameter validation and unknown routes."""

    message: str | list[Any] | dict[str, Any] | None = None
    error: str | None = None
    error_description: str | None = None


class UserRef(GitLabModel):
    id: int
    username: str
    name: str
    state: str = "active"
    web_url: str = ""


class Project(GitLabModel):
    id: int
    name: str
    path_with_namespace: str
    default_branch: str | None  # None while the repository is empty
    http_url_to_repo: str
    web_url: str


class Commit(GitLabModel):
    id: str
    short_id: str
    title: str
    message: str
    parent_ids: list[str]
    web_url: str = ""


class Branch(GitLabModel):
    name: str
    commit: Commit
    protected: bool = False
    default: bool = False
    web_url: str = ""


class DiffRefs(GitLabModel):
    """Populated asynchronously by GitLab after an MR is created or pushed to."""

    base_sha: str | None = None
    head_sha: str | None = None
    start_sha: str | None = None


class MergeRequest(GitLabModel):
    id: int
    iid: int
    project_id: int
    title: str
    description: str | None
    state: MergeRequestState
    draft: bool
    source_branch: str
    target_branch: str
    sha: str | None
    merge_commit_sha: str | None
    squash_commit_sha: str | None = None
    web_url: str
    detailed_merge_status: str = ""
    has_conflicts: bool = False
    merge_error: str | None = None
    diff_refs: DiffRefs | None = None


class Position(GitLabModel):
    """Where a diff note sits; sent when opening a diff discussion and returned on DiffNotes."""

    base_sha: str
    start_sha: str
    head_sha: str
    position_type: Literal["text"] = "text"
    old_path: str
    new_path: str
    old_line: int | None = None
    new_line: int | None = None


class Note(GitLabModel):
    id: int
    type: str | None = None  # null or absent for a plain note, "DiscussionNote", "DiffNote"
    body: str
    author: UserRef
    system: bool
    created_at: str
    position: Position | None = None


class Discussion(GitLabModel):
    id: str
    individual_note: bool
    notes: list[Note]


class CommitStatus(GitLabModel):
    id: int
    sha: str
    ref: str | None
    status: ReportedStatus
    name: str
    description: str | None = None
    target_url: str | None = None


class CommitAction(GitLabModel):
    """One `actions[]` entry of POST /projects/:id/repository/commits (the subset the adapter writes)."""

    action: Literal["create", "update", "delete"]
    file_path: str
    content: str | None = None
    encoding: Literal["text"] | None = None
