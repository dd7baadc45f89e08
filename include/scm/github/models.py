"""Pydantic models of the GitHub REST (2022-11-28) payloads the client reads. Field names are GitHub's own
snake_case; unknown fields are ignored, so a richer answer (a full PR where a simple one is listed, new
fields GitHub adds) never breaks a read. Only what the adapter branches on is required."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

StatusState = Literal["pending", "success", "failure", "error"]


class GitHubModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ErrorDetail(GitHubModel):
    """One entry of a 422's `errors`: GitHub sends either an object or, for some validations, a bare string."""

    resource: str = ""
    field: str = ""
    code: str = ""
    message: str = ""


class ErrorBody(GitHubModel):
    """GitHub's error envelope: {"message", "documentation_url", "errors"?, "status"?}."""

    message: str
    documentation_url: str = ""
    errors: list[ErrorDetail | str] = []


class SimpleUser(GitHubModel):
    login: str
    id: int
    type: str = "User"


class Repository(GitHubModel):
    id: int
    node_id: str = ""
    name: str
    full_name: str
    owner: SimpleUser
    default_branch: str
    clone_url: str
    html_url: str = ""


class GitObject(GitHubModel):
    type: str
    sha: str
    url: str = ""


class GitRef(GitHubModel):
    ref: str
    node_id: str = ""
    url: str = ""
    object: GitObject


class ShortBlob(GitHubModel):
    sha: str
    url: str = ""


class GitTree(GitHubModel):
    sha: str
    url: str = ""


class GitUser(GitHubModel):
    name: str
    email: str
    date: str


class CommitParent(GitHubModel):
    sha: str
    url: str = ""


class GitCommit(GitHubModel):
    sha: str
    node_id: str = ""
    url: str = ""
    html_url: str = ""
    message: str
    author: GitUser
    committer: GitUser
    tree: GitTree
    parents: list[CommitParent]


class PullRequestBranch(GitHubModel):
    label: str = ""
    ref: str
    sha: str


class PullRequest(GitHubModel):
    """A pull request as both `GET /pulls/{n}` and the list endpoint return it. Listed PRs carry no `merged`;
    `merged_at` says the same in both shapes."""

    id: int
    node_id: str
    number: int
    state: Literal["open", "closed"]
    title: str
    body: str | None = None
    draft: bool = False
    merged: bool | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    mergeable: bool | None = None
    mergeable_state: str = ""
    head: PullRequestBranch
    base: PullRequestBranch
    html_url: str
    url: str = ""

    @property
    def is_merged(self) -> bool:
        return bool(self.merged or self.merged_at)


class IssueComment(GitHubModel):
    id: int
    body: str = ""
    user: SimpleUser | None = None
    created_at: str
    html_url: str = ""


class ReviewComment(GitHubModel):
    """A comment on a line (or, with subject_type "file", on a whole file) of a pull request's diff."""

    id: int
    body: str = ""
    user: SimpleUser | None = None
    path: str
    line: int | None = None
    side: str | None = None
    commit_id: str = ""
    subject_type: str | None = None
    created_at: str
    html_url: str = ""


class Status(GitHubModel):
    id: int
    state: StatusState
    context: str
    description: str | None = None
    target_url: str | None = None
    created_at: str = ""


class CombinedStatus(GitHubModel):
    """The latest status per context for one commit; `statuses` is paged (`total_count` says how many)."""

    state: str
    sha: str
    total_count: int
    statuses: list[Status]


class MergeResult(GitHubModel):
    sha: str
    merged: bool
    message: str = ""


class GraphQLError(GitHubModel):
    message: str
    type: str = ""
    path: list[Any] = []


class GraphQLResponse(GitHubModel):
    data: dict[str, Any] | None = None
    errors: list[GraphQLError] = []
