"""Pydantic models of the Azure DevOps 7.1 payloads the client reads and sends. Field names are snake_case
with camelCase aliases; unknown fields are ignored so a richer service answer never breaks a read."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

ZERO_OBJECT_ID = "0" * 40


class AdoModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class AdoErrorBody(AdoModel):
    """ADO's error envelope: {"$id","innerException","message","typeName","typeKey","errorCode","eventId"}."""

    id: str | None = Field(default=None, alias="$id")
    inner_exception: Any = None
    message: str
    type_name: str = ""
    type_key: str = ""
    error_code: int = 0
    event_id: int = 0


class IdentityRef(AdoModel):
    id: str = ""
    display_name: str = ""
    unique_name: str = ""


# --- work items ---------------------------------------------------------------------------------------


class WorkItem(AdoModel):
    id: int
    rev: int
    fields: dict[str, Any] = {}
    relations: list[dict[str, Any]] = []
    url: str = ""


class WorkItemComment(AdoModel):
    id: int
    work_item_id: int
    text: str
    version: int = 1
    created_date: str = ""


class WorkItemCommentList(AdoModel):
    """One page of a work item's comments; `continuation_token` is None on the last page."""

    comments: list[WorkItemComment] = []
    continuation_token: str | None = None


class PatchOp(AdoModel):
    """One JSON Patch operation against a work item (RFC 6902, as ADO reads it)."""

    op: Literal["add", "remove", "replace", "test", "move", "copy"]
    path: str
    value: Any = None
    from_: str | None = Field(default=None, alias="from")


# --- git ----------------------------------------------------------------------------------------------


class GitRef(AdoModel):
    name: str
    object_id: str


class GitRefUpdateResult(AdoModel):
    name: str
    old_object_id: str
    new_object_id: str
    success: bool
    update_status: str
    repository_id: str = ""
    custom_message: str | None = None


class BranchResult(AdoModel):
    """What `create_branch` did: `created` is False when the branch already stood at the wanted commit."""

    name: str
    object_id: str
    update_status: str
    created: bool


class GitUserDate(AdoModel):
    name: str = ""
    email: str = ""
    date: str = ""


class GitCommitRef(AdoModel):
    commit_id: str
    comment: str = ""
    parents: list[str] = []
    author: GitUserDate | None = None
    committer: GitUserDate | None = None
    url: str = ""


class GitRefUpdate(AdoModel):
    name: str
    old_object_id: str
    new_object_id: str = ""


class GitPush(AdoModel):
    push_id: int | None = None
    date: str = ""
    commits: list[GitCommitRef] = []
    ref_updates: list[GitRefUpdate] = []

    @property
    def commit_id(self) -> str:
        """The commit the branch now points at."""
        return self.ref_updates[0].new_object_id if self.ref_updates else self.commits[-1].commit_id


class GitItem(AdoModel):
    path: str
    object_id: str = ""
    commit_id: str = ""
    git_object_type: str = ""
    is_folder: bool = False
    content: str | None = None


class ItemChange(BaseModel):
    """One file change of a push; `content` is raw text (ADO `rawtext`) and is ignored for deletes."""

    change_type: Literal["add", "edit", "delete"]
    path: str
    content: str = ""


# --- pull requests ------------------------------------------------------------------------------------


class ResourceRef(AdoModel):
    id: str
    url: str = ""


class Reviewer(AdoModel):
    id: str
    display_name: str = ""
    unique_name: str = ""  # the sign-in name: what a tenant's approver list names, never the display name
    is_container: bool = False  # a group, whose vote is not one person's decision
    vote: int = 0
    is_required: bool = False


class PullRequest(AdoModel):
    pull_request_id: int
    status: str
    title: str = ""
    description: str = ""
    source_ref_name: str
    target_ref_name: str
    is_draft: bool = False
    merge_status: str = "notSet"
    last_merge_source_commit: GitCommitRef | None = None
    last_merge_target_commit: GitCommitRef | None = None
    last_merge_commit: GitCommitRef | None = None
    work_item_refs: list[ResourceRef] = []
    reviewers: list[Reviewer] = []
    url: str = ""


class PrComment(AdoModel):
    id: int
    parent_comment_id: int = 0
    content: str = ""
    comment_type: str = "text"


class CommentThread(AdoModel):
    id: int
    status: str = "active"
    comments: list[PrComment] = []


class StatusContext(AdoModel):
    name: str
    genre: str = ""


class PullRequestStatus(AdoModel):
    id: int
    state: str
    description: str = ""
    context: StatusContext
    target_url: str | None = None


# --- pipelines and builds -----------------------------------------------------------------------------


class PipelineRun(AdoModel):
    id: int
    name: str = ""
    state: Literal["unknown", "inProgress", "canceling", "completed"]
    result: Literal["unknown", "succeeded", "failed", "canceled"] | None = None
    url: str = ""


class BuildDefinitionRef(AdoModel):
    id: int
    name: str = ""


class Build(AdoModel):
    id: int
    build_number: str = ""
    status: str
    result: str | None = None
    source_branch: str = ""
    source_version: str = ""
    definition: BuildDefinitionRef | None = None
