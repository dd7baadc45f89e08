"""A small typed client for the GitLab REST API v4 (projects, branches, commits, merge requests, notes,
discussions, commit statuses). Projects are addressed by their URL-encoded path (`group%2Fname`), the token
travels as `PRIVATE-TOKEN`. Requests go through the shared retry loop of include/scm/http_retry.py with GitLab's
rate-limit headers. Writes that a replay could repeat check for their own earlier effect (branch already at
the commit, the open MR from the source branch, the MR already merged, the status already in that state);
the writes that cannot (a commit, a note, a status) are sent once and report a lost answer as OutcomeUnknown,
so that they, or their caller, look for their own effect first."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from include.scm.gitlab.errors import GitLabError, OutcomeUnknown, RetryBudgetExceeded, error_from_response
from include.scm.gitlab.models import (
    Branch,
    Commit,
    CommitAction,
    CommitStatus,
    Discussion,
    GitLabModel,
    MergeRequest,
    Note,
    Position,
    Project,
    StatusState,
)
from include.scm.gitlab.pacing import GitLabPacer
from include.scm.http_retry import RetryBudgetExceeded as SharedBudgetExceeded
from include.scm.http_retry import RetryPolicy, send_with_retry

API_PATH = "/api/v4"
DEFAULT_URL = "https://gitlab.com"
NOT_APPLIED = frozenset({429, 503})  # refusals after which a write certainly did not happen
M = TypeVar("M", bound=GitLabModel)


def api_root(url: str) -> str:
    """`https://gitlab.example.com` or `.../api/v4` → `https://gitlab.example.com/api/v4`."""
    url = url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"GitLab URL {url!r} must start with https:// (or http:// for a local instance)")
    return url if url.endswith(API_PATH) else url + API_PATH


def _p(project: str | int) -> str:
    return f"projects/{quote(str(project), safe='')}"


class GitLabClient:
    """One GitLab instance and token. Thread-safe as httpx.Client is; share one per credential."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 100,
    ) -> None:
        if not token:
            raise ValueError("a GitLab access token must not be empty")
        self.api_url = api_root(api_url)
        self.policy = policy or RetryPolicy()
        self.page_size = page_size
        headers = {"PRIVATE-TOKEN": token, "Accept": "application/json"}
        self._http = httpx.Client(headers=headers, timeout=timeout, transport=transport)
        self._pacer = GitLabPacer()
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitLabClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        replay_safe: bool = False,
        once: bool = False,
    ) -> httpx.Response:
        """A success, or GitLabError. `once`: retry only refusals that prove nothing happened (429, 503) and
        turn a lost answer into OutcomeUnknown instead of replaying."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        request = self._http.build_request(method, f"{self.api_url}/{path}", params=query, json=body)
        policy = self.policy
        if once:
            policy = policy.model_copy(update={"retry_statuses": policy.retry_statuses & NOT_APPLIED})
        try:
            response = send_with_retry(self._http, request, replay_safe=replay_safe and not once, policy=policy,
                                       pacer=self._pacer, sleep=self._sleep, service="GitLab")
        except SharedBudgetExceeded as exc:
            raise RetryBudgetExceeded(exc.status, exc.message) from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknown(503, f"{method} /{path} lost its answer ({type(exc).__name__}: {exc}); it may "
                                      "have been applied") from exc
        if once and response.status_code in (502, 504):
            raise OutcomeUnknown(response.status_code, f"{method} /{path} got a gateway error; it may have been "
                                                       "applied")
        if not response.is_success:
            raise error_from_response(response)
        return response

    def _get(self, path: str, model: type[M], /, **params: Any) -> M:
        return model.model_validate(self._send("GET", path, params=params).json())

    def _pages(self, path: str, model: type[M], /, **params: Any) -> list[M]:
        """Every page of a list, following `X-Next-Page` (empty on the last page)."""
        found: list[M] = []
        page = 1
        while True:
            response = self._send("GET", path, params={**params, "per_page": self.page_size, "page": page})
            found += [model.model_validate(item) for item in response.json()]
            following = response.headers.get("X-Next-Page", "").strip()
            if not following:
                return found
            if int(following) <= page:
                raise GitLabError(502, f"GET /{path}: page {page} points back to page {following}")
            page = int(following)

    # --- projects, branches, commits ----------------------------------------------------------------

    def project(self, project: str | int) -> Project:
        return self._get(_p(project), Project)

    def group_projects(self, group: str) -> list[Project]:
        return self._pages(f"groups/{quote(group, safe='')}/projects", Project, simple="true")

    def branch(self, project: str | int, name: str) -> Branch | None:
        try:
            return self._get(f"{_p(project)}/repository/branches/{quote(name, safe='')}", Branch)
        except GitLabError as exc:
            if exc.status == 404 and "Branch" in exc.message:
                return None
            raise

    def create_branch(self, project: str | int, name: str, sha: str) -> Branch:
        """Create `name` at commit `sha`; a branch already there counts as success, one elsewhere is a 409."""
        try:
            response = self._send("POST", f"{_p(project)}/repository/branches", params={"branch": name, "ref": sha},
                                  replay_safe=True)
            return Branch.model_validate(response.json())
        except GitLabError as exc:
            if exc.status != 400 or "already exists" not in exc.message:
                raise
        existing = self.branch(project, name)
        if existing is not None and existing.commit.id == sha:
            return existing
        where = existing.commit.id if existing else "nothing (deleted meanwhile)"
        raise GitLabError(409, f"branch {name!r} exists at {where}, not {sha}")

    def create_commit(self, project: str | int, branch: str, message: str, actions: list[CommitAction]) -> Commit:
        """One commit of `actions` on top of `branch`'s current tip (sent once: see OutcomeUnknown)."""
        body = {"branch": branch, "commit_message": message,
                "actions": [a.model_dump(exclude_none=True) for a in actions]}
        return Commit.model_validate(self._send("POST", f"{_p(project)}/repository/commits", body=body,
                                                once=True).json())

    # --- merge requests -----------------------------------------------------------------------------

    def merge_requests(self, project: str | int, source_branch: str, state: str = "all") -> list[MergeRequest]:
        return self._pages(f"{_p(project)}/merge_requests", MergeRequest, source_branch=source_branch,
                           state=state)

    def merge_request(self, project: str | int, iid: int) -> MergeRequest:
        return self._get(f"{_p(project)}/merge_requests/{iid}", MergeRequest)

    def create_merge_request(
        self, project: str | int, source: str, target: str, title: str, description: str = ""
    ) -> MergeRequest:
        """Open an MR, or return the open one from `source` (GitLab allows one open MR per source branch)."""
        existing = self.merge_requests(project, source, state="opened")
        if existing:
            return existing[0]
        body = {"source_branch": source, "target_branch": target, "title": title, "description": description}
        try:
            response = self._send("POST", f"{_p(project)}/merge_requests", body=body, replay_safe=True)
        except GitLabError as exc:
            existing = self.merge_requests(project, source, state="opened") if exc.status == 409 else []
            if not existing:
                raise
            return existing[0]
        return MergeRequest.model_validate(response.json())

    def update_merge_request(self, project: str | int, iid: int, **fields: Any) -> MergeRequest:
        response = self._send("PUT", f"{_p(project)}/merge_requests/{iid}", body=fields)
        return MergeRequest.model_validate(response.json())

    def close_merge_request(self, project: str | int, iid: int) -> MergeRequest:
        """`state_event=close`; GitLab ignores it on an MR already closed or merged, so it replays safely."""
        response = self._send("PUT", f"{_p(project)}/merge_requests/{iid}", body={"state_event": "close"},
                              replay_safe=True)
        return MergeRequest.model_validate(response.json())

    def merge(self, project: str | int, iid: int, sha: str, *, squash: bool = True) -> MergeRequest:
        """Merge as of source head `sha` (GitLab refuses with 409 if the branch moved); merging an MR that is
        already merged returns it, so a replay after a lost answer is a success."""
        body = {"sha": sha, "squash": squash, "should_remove_source_branch": False}
        try:
            response = self._send("PUT", f"{_p(project)}/merge_requests/{iid}/merge", body=body)
        except GitLabError as exc:
            if exc.status not in (405, 406, 409, 422):
                raise
            current = self.merge_request(project, iid)
            if current.state != "merged":
                raise
            return current
        return MergeRequest.model_validate(response.json())

    # --- notes and discussions ----------------------------------------------------------------------

    def notes(self, project: str | int, iid: int) -> list[Note]:
        return self._pages(f"{_p(project)}/merge_requests/{iid}/notes", Note, sort="asc", order_by="created_at")

    def create_note(self, project: str | int, iid: int, body: str) -> Note:
        response = self._send("POST", f"{_p(project)}/merge_requests/{iid}/notes", body={"body": body}, once=True)
        return Note.model_validate(response.json())

    def create_discussion(self, project: str | int, iid: int, body: str, position: Position) -> Discussion:
        """A diff thread at `position` (sent once: see OutcomeUnknown)."""
        payload = {"body": body, "position": position.model_dump(exclude_none=True)}
        response = self._send("POST", f"{_p(project)}/merge_requests/{iid}/discussions", body=payload, once=True)
        return Discussion.model_validate(response.json())

    # --- commit statuses ----------------------------------------------------------------------------

    def set_status(
        self,
        project: str | int,
        sha: str,
        state: StatusState,
        name: str,
        *,
        ref: str,
        description: str = "",
        target_url: str | None = None,
    ) -> CommitStatus:
        """Post a status, once per attempt: a replayed finished state would add a second status. After a lost
        answer, and after GitLab's refusal to move a live status into the state it already has (400 "Cannot
        transition status"), the latest status of `name` already in `state` counts as done."""
        path = f"{_p(project)}/statuses/{sha}"
        body = {"state": state, "name": name, "ref": ref, "description": description[:255] or None,
                "target_url": target_url}
        for _ in range(3):
            try:
                response = self._send("POST", path, body={k: v for k, v in body.items() if v is not None}, once=True)
                return CommitStatus.model_validate(response.json())
            except OutcomeUnknown:
                refused = None
            except GitLabError as exc:
                if exc.status != 400 or "Cannot transition status" not in exc.message:
                    raise
                refused = exc
            latest = self.statuses(project, sha, ref=ref, name=name)
            if latest and latest[-1].status == state:
                return latest[-1]
            if refused is not None:
                raise refused
        raise OutcomeUnknown(503, f"POST /{path} lost its answer three times; it may have been applied")

    def statuses(
        self, project: str | int, sha: str, *, ref: str | None = None, name: str | None = None
    ) -> list[CommitStatus]:
        """The latest status per name on `sha`, oldest first."""
        found = self._pages(f"{_p(project)}/repository/commits/{sha}/statuses", CommitStatus, ref=ref, name=name)
        return sorted(found, key=lambda s: s.id)
