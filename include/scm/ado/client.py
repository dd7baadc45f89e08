"""A small typed client for the Azure DevOps REST API 7.1 (work items, Git, pull requests, pipelines).
Every write that a retry could repeat checks for its own earlier effect (branch already at the commit, the
push's commit already on the branch, the active PR for the source ref, the PR already completed), so a call
that is retried after a lost answer still happens exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from include.scm.ado.auth import BearerAuth, PatAuth, TokenProvider
from include.scm.ado.errors import AdoError, RetryBudgetExceeded, error_from_response
from include.scm.ado.models import (
    ZERO_OBJECT_ID,
    AdoModel,
    BranchResult,
    Build,
    CommentThread,
    GitCommitRef,
    GitItem,
    GitPush,
    GitRef,
    GitRefUpdate,
    GitRefUpdateResult,
    ItemChange,
    PatchOp,
    PipelineRun,
    PullRequest,
    PullRequestStatus,
    Reviewer,
    WorkItem,
    WorkItemComment,
    WorkItemCommentList,
)
from include.scm.http_retry import Pacer, RetryPolicy, send_with_retry
from include.scm.http_retry import RetryBudgetExceeded as SharedBudgetExceeded

API_VERSION = "7.1"
COMMENTS_API_VERSION = "7.1-preview.4"
MergeStrategy = Literal["squash", "noFastForward", "rebase", "rebaseMerge"]
StatusState = Literal["notSet", "pending", "succeeded", "failed", "error", "notApplicable"]
M = TypeVar("M", bound=AdoModel)


def branch_ref(name: str) -> str:
    """`feature/x` → `refs/heads/feature/x`; full ref names pass through."""
    return name if name.startswith("refs/") else f"refs/heads/{name}"


class AdoClient:
    """One organisation and project. Thread-safe as httpx.Client is; share one per credential."""

    def __init__(
        self,
        org_url: str,
        project: str,
        *,
        auth: httpx.Auth,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = f"{org_url.rstrip('/')}/{quote(project, safe='')}/_apis"
        self.org_api = f"{org_url.rstrip('/')}/_apis"
        self.policy = policy or RetryPolicy()
        self._http = httpx.Client(auth=auth, timeout=timeout, transport=transport)
        self._pacer = Pacer()
        self._sleep = sleep

    @classmethod
    def with_pat(cls, org_url: str, project: str, pat: str, **kwargs: Any) -> AdoClient:
        return cls(org_url, project, auth=PatAuth(pat), **kwargs)

    @classmethod
    def with_token_provider(cls, org_url: str, project: str, provider: TokenProvider, **kwargs: Any) -> AdoClient:
        return cls(org_url, project, auth=BearerAuth(provider), **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        api_version: str = API_VERSION,
        replay_safe: bool = False,
    ) -> Any:
        """The parsed JSON body of a success; any other answer becomes an AdoError."""
        response = self.send(method, f"{self.base_url}/{path}", params=params, body=body, content_type=content_type,
                             api_version=api_version, replay_safe=replay_safe)
        return response.json() if response.content else None

    def send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        api_version: str = API_VERSION,
        replay_safe: bool = False,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A success answer to a request at any URL of the organisation (`org_api` for organisation-level
        resources: projects, operations, service hooks); any other answer becomes an AdoError."""
        query = {k: v for k, v in (params or {}).items() if v is not None} | {"api-version": api_version}
        headers = {"Accept": "application/json", **(headers or {})}
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body).encode()
        request = self._http.build_request(method, url, params=query, headers=headers, content=content)
        try:
            response = send_with_retry(self._http, request, replay_safe=replay_safe, policy=self.policy,
                                       pacer=self._pacer, sleep=self._sleep, service="Azure DevOps")
        except SharedBudgetExceeded as exc:
            raise RetryBudgetExceeded(exc.status, exc.message, type_key="RetryBudgetExceeded") from exc
        if not response.is_success:
            raise error_from_response(response)
        return response

    def _get(self, path: str, model: type[M], /, **params: Any) -> M:
        return model.model_validate(self._call("GET", path, params=params))

    def _list(self, path: str, model: type[M], /, **params: Any) -> list[M]:
        return [model.model_validate(v) for v in self._call("GET", path, params=params)["value"]]

    # --- work items ---------------------------------------------------------------------------------

    def get_work_item(
        self, work_item_id: int, expand: Literal["None", "Relations", "Fields", "Links", "All"] | None = None
    ) -> WorkItem:
        return self._get(f"wit/workitems/{work_item_id}", WorkItem, **{"$expand": expand})

    def update_work_item(self, work_item_id: int, rev: int, patch_ops: Sequence[PatchOp]) -> WorkItem:
        """Apply `patch_ops` only if the item is still at `rev` (else StaleRevision). A replay whose first
        attempt landed is recognised by the item being one rev on with our field values."""
        ops = [PatchOp(op="test", path="/rev", value=rev), *patch_ops]
        body = [op.model_dump(by_alias=True, exclude_none=True) for op in ops]
        path = f"wit/workitems/{work_item_id}"
        try:
            data = self._call("PATCH", path, body=body, content_type="application/json-patch+json",
                              replay_safe=True)
        except AdoError as exc:
            if exc.status != 412:
                raise
            current = self.get_work_item(work_item_id)
            if current.rev == rev + 1 and _fields_applied(current, patch_ops):
                return current
            raise
        return WorkItem.model_validate(data)

    def add_comment(self, work_item_id: int, text: str) -> WorkItemComment:
        data = self._call("POST", f"wit/workItems/{work_item_id}/comments", body={"text": text},
                          api_version=COMMENTS_API_VERSION)
        return WorkItemComment.model_validate(data)

    def work_item_comments(self, work_item_id: int) -> list[WorkItemComment]:
        """Every comment of the work item, oldest first, following the continuation token page by page."""
        found: list[WorkItemComment] = []
        token: str | None = None
        while True:
            data = self._call("GET", f"wit/workItems/{work_item_id}/comments", api_version=COMMENTS_API_VERSION,
                              params={"order": "asc", "continuationToken": token})
            page = WorkItemCommentList.model_validate(data)
            found += page.comments
            if not page.continuation_token or page.continuation_token == token:
                return found
            token = page.continuation_token

    # --- git ----------------------------------------------------------------------------------------

    def list_refs(self, repo: str, filter: str | None = None) -> list[GitRef]:
        """Refs whose name (after `refs/`) starts with `filter`, e.g. `heads/` or `heads/feature/x`."""
        return self._list(f"{_git(repo)}/refs", GitRef, filter=filter)

    def head(self, repo: str, branch: str) -> str | None:
        ref = branch_ref(branch)
        return next((r.object_id for r in self.list_refs(repo, ref[5:]) if r.name == ref), None)

    def create_branch(self, repo: str, name: str, from_commit: str) -> BranchResult:
        """Create `name` at `from_commit`; a branch already there counts as success, one elsewhere is a 409."""
        ref = branch_ref(name)
        update = {"name": ref, "oldObjectId": ZERO_OBJECT_ID, "newObjectId": from_commit}
        data = self._call("POST", f"{_git(repo)}/refs", body=[update], replay_safe=True)
        result = GitRefUpdateResult.model_validate(data["value"][0])
        if result.success:
            return BranchResult(name=ref, object_id=from_commit, update_status=result.update_status, created=True)
        existing = self.head(repo, ref)
        if existing == from_commit:
            return BranchResult(name=ref, object_id=existing, update_status=result.update_status, created=False)
        raise AdoError(409, f"branch {ref} exists at {existing}, not {from_commit} ({result.update_status})",
                       type_key="GitRefUpdate:" + result.update_status)

    def get_commit(self, repo: str, commit_id: str) -> GitCommitRef:
        return self._get(f"{_git(repo)}/commits/{commit_id}", GitCommitRef)

    def push(
        self,
        repo: str,
        branch: str,
        old_object_id: str | None,
        commit_message: str,
        changes: Sequence[ItemChange],
    ) -> GitPush:
        """One commit on `branch`, which must still be at `old_object_id` (None: create the branch).
        After a lost answer, a stale-ref refusal whose branch tip is our commit means the push landed."""
        ref = branch_ref(branch)
        old = old_object_id or ZERO_OBJECT_ID
        body = {
            "refUpdates": [{"name": ref, "oldObjectId": old}],
            "commits": [{"comment": commit_message, "changes": [_change(c) for c in changes]}],
        }
        try:
            data = self._call("POST", f"{_git(repo)}/pushes", body=body, replay_safe=True)
        except AdoError as exc:
            if exc.status not in (400, 409):
                raise
            landed = self._landed_push(repo, ref, old, commit_message)
            if landed is None:
                raise
            return landed
        return GitPush.model_validate(data)

    def _landed_push(self, repo: str, ref: str, old: str, message: str) -> GitPush | None:
        tip = self.head(repo, ref)
        if tip is None or tip == old:
            return None
        commit = self.get_commit(repo, tip)
        parents = [] if old == ZERO_OBJECT_ID else [old]
        if commit.parents != parents or commit.comment.rstrip() != message.rstrip():
            return None
        return GitPush(commits=[commit], ref_updates=[GitRefUpdate(name=ref, old_object_id=old, new_object_id=tip)])

    def get_item(self, repo: str, path: str, version: str | None = None) -> GitItem:
        """A file with its content, at branch `version` (default branch when None)."""
        params = {"path": path, "includeContent": "true"}
        if version is not None:
            params |= {"versionDescriptor.version": version, "versionDescriptor.versionType": "branch"}
        return self._get(f"{_git(repo)}/items", GitItem, **params)

    # --- pull requests ------------------------------------------------------------------------------

    def find_active_pr(self, repo: str, source_ref: str) -> PullRequest | None:
        found = self._list(
            f"{_git(repo)}/pullrequests", PullRequest,
            **{"searchCriteria.sourceRefName": branch_ref(source_ref), "searchCriteria.status": "active"},
        )
        return found[0] if found else None

    def get_pr(self, repo: str, pr_id: int) -> PullRequest:
        return self._get(f"{_git(repo)}/pullrequests/{pr_id}", PullRequest)

    def create_pr(
        self,
        repo: str,
        source_ref: str,
        target_ref: str,
        title: str,
        description: str = "",
        *,
        is_draft: bool = True,
        work_item_ids: Sequence[int] = (),
    ) -> PullRequest:
        """Open a PR, or return the active one from `source_ref` (ADO allows one per source and target)."""
        existing = self.find_active_pr(repo, source_ref)
        if existing is not None:
            return existing
        body = {
            "sourceRefName": branch_ref(source_ref),
            "targetRefName": branch_ref(target_ref),
            "title": title,
            "description": description,
            "isDraft": is_draft,
            "workItemRefs": [{"id": str(i)} for i in work_item_ids],
        }
        try:
            data = self._call("POST", f"{_git(repo)}/pullrequests", body=body, replay_safe=True)
        except AdoError as exc:
            existing = self.find_active_pr(repo, source_ref) if exc.status == 409 else None
            if existing is None:
                raise
            return existing
        return PullRequest.model_validate(data)

    def _update_pr(self, repo: str, pr_id: int, body: dict[str, Any]) -> PullRequest:
        data = self._call("PATCH", f"{_git(repo)}/pullrequests/{pr_id}", body=body, replay_safe=True)
        return PullRequest.model_validate(data)

    def publish_pr(self, repo: str, pr_id: int) -> PullRequest:
        """Draft → ready for review (a plain JSON PATCH, not json-patch)."""
        return self._update_pr(repo, pr_id, {"isDraft": False})

    def complete_pr(
        self,
        repo: str,
        pr_id: int,
        last_merge_source_commit: str,
        merge_strategy: MergeStrategy = "squash",
        *,
        delete_source_branch: bool = False,
        transition_work_items: bool = True,
    ) -> PullRequest:
        """Merge the PR as of `last_merge_source_commit` (ADO refuses completion without it); completing an
        already completed PR returns it unchanged."""
        body = {
            "status": "completed",
            "lastMergeSourceCommit": {"commitId": last_merge_source_commit},
            "completionOptions": {
                "mergeStrategy": merge_strategy,
                "deleteSourceBranch": delete_source_branch,
                "transitionWorkItems": transition_work_items,
            },
        }
        try:
            return self._update_pr(repo, pr_id, body)
        except AdoError:
            current = self.get_pr(repo, pr_id)
            if current.status != "completed":
                raise
            return current

    def abandon_pr(self, repo: str, pr_id: int) -> PullRequest:
        """Close the PR without merging; a replay whose first attempt landed finds it abandoned."""
        try:
            return self._update_pr(repo, pr_id, {"status": "abandoned"})
        except AdoError:
            current = self.get_pr(repo, pr_id)
            if current.status != "abandoned":
                raise
            return current

    def create_thread(self, repo: str, pr_id: int, content: str, status: str = "active") -> CommentThread:
        body = {"comments": [{"parentCommentId": 0, "content": content, "commentType": "text"}], "status": status}
        data = self._call("POST", f"{_git(repo)}/pullRequests/{pr_id}/threads", body=body)
        return CommentThread.model_validate(data)

    def set_vote(self, repo: str, pr_id: int, reviewer_id: str, vote: Literal[10, 5, 0, -5, -10]) -> Reviewer:
        data = self._call("PUT", f"{_git(repo)}/pullRequests/{pr_id}/reviewers/{reviewer_id}", body={"vote": vote})
        return Reviewer.model_validate(data)

    def list_reviewers(self, repo: str, pr_id: int) -> list[Reviewer]:
        return self._list(f"{_git(repo)}/pullRequests/{pr_id}/reviewers", Reviewer)

    def active_pull_requests(self, page: int = 100) -> list[PullRequest]:
        """Every active pull request of the project, in any repository, each with its reviewers and their votes
        (Pull Requests - Get Pull Requests By Project): one call per `page` pull requests, however many are
        asked about, so reading many gates' votes costs one call per project rather than one per PR."""
        found: list[PullRequest] = []
        while True:
            batch = self._list("git/pullrequests", PullRequest,
                               **{"searchCriteria.status": "active", "$top": page, "$skip": len(found)})
            found += batch
            if len(batch) < page:
                return found

    def create_status(
        self,
        repo: str,
        pr_id: int,
        state: StatusState,
        description: str,
        context_name: str,
        genre: str = "ticketpilot",
        target_url: str | None = None,
    ) -> PullRequestStatus:
        """Post a status; ADO keeps the latest per context, so a replayed post changes nothing visible."""
        body = {"state": state, "description": description, "context": {"name": context_name, "genre": genre}}
        if target_url:
            body["targetUrl"] = target_url
        data = self._call("POST", f"{_git(repo)}/pullRequests/{pr_id}/statuses", body=body, replay_safe=True)
        return PullRequestStatus.model_validate(data)

    # --- pipelines and builds -----------------------------------------------------------------------

    def run_pipeline(
        self,
        pipeline_id: int,
        branch: str,
        template_parameters: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        version: str | None = None,
    ) -> PipelineRun:
        """Queue a run of `branch` (at commit `version` when given, else its tip). Not replay-safe: a retry
        after a lost answer could queue twice, so callers look the run up first (include/scm/ado/pipelines.py)."""
        self_repo: dict[str, str] = {"refName": branch_ref(branch)}
        if version:
            self_repo["version"] = version
        body: dict[str, Any] = {"resources": {"repositories": {"self": self_repo}}}
        if template_parameters:
            body["templateParameters"] = template_parameters
        if variables:
            body["variables"] = {k: {"value": v} for k, v in variables.items()}
        data = self._call("POST", f"pipelines/{pipeline_id}/runs", body=body)
        return PipelineRun.model_validate(data)

    def get_run(self, pipeline_id: int, run_id: int) -> PipelineRun:
        return self._get(f"pipelines/{pipeline_id}/runs/{run_id}", PipelineRun)

    def latest_build(self, definition_id: int, branch: str) -> Build | None:
        found = self.builds(definition_id, branch, top=1)
        return found[0] if found else None

    def builds(self, definition_id: int, branch: str, top: int = 50) -> list[Build]:
        """The pipeline's builds of `branch`, newest first (a pipeline run is a build with the run's id)."""
        return self._list(
            "build/builds", Build,
            **{"definitions": definition_id, "branchName": branch_ref(branch), "$top": top,
               "queryOrder": "queueTimeDescending"},
        )


def _change(change: ItemChange) -> dict[str, Any]:
    path = change.path if change.path.startswith("/") else f"/{change.path}"
    entry: dict[str, Any] = {"changeType": change.change_type, "item": {"path": path}}
    if change.change_type != "delete":
        entry["newContent"] = {"content": change.content, "contentType": "rawtext"}
    return entry


def _fields_applied(item: WorkItem, ops: Sequence[PatchOp]) -> bool:
    """Whether every field our ops set or removed already reads that way."""
    for op in ops:
        if not op.path.startswith("/fields/"):
            continue
        name = op.path.removeprefix("/fields/")
        if op.op in ("add", "replace") and item.fields.get(name) != op.value:
            return False
        if op.op == "remove" and name in item.fields:
            return False
    return True


def _git(repo: str) -> str:
    return f"git/repositories/{quote(repo, safe='')}"
