"""A small typed client for the GitHub REST API (version 2022-11-28), plus the one GraphQL mutation REST
lacks (draft → ready for review). Requests go through the retry loop shared with the ADO client, with
GitHub's rate-limit answers translated for it (see ratelimit.py). Writes whose replay is harmless (blobs,
trees and commits are content-addressed or unreferenced, a non-force ref update to the same commit is a
no-op, a status replaces the previous one per context) are replayed after a dropped connection; writes whose
replay would duplicate something (comments) are not, and their callers look for their own earlier effect."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from include.scm.github.errors import GitHubError, RetryBudgetExceeded, error_from_response
from include.scm.github.models import (
    CombinedStatus,
    GitCommit,
    GitHubModel,
    GitRef,
    GraphQLResponse,
    IssueComment,
    MergeResult,
    PullRequest,
    Repository,
    ReviewComment,
    ShortBlob,
    Status,
    StatusState,
)
from include.scm.github.ratelimit import RateLimitTransport
from include.scm.http_retry import Pacer, RetryPolicy, send_with_retry
from include.scm.http_retry import RetryBudgetExceeded as SharedBudgetExceeded

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100  # GitHub's maximum page size
MARK_READY = (
    "mutation MarkReady($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) "
    "{ pullRequest { id number isDraft } } }"
)
_GRAPHQL_STATUS = {"NOT_FOUND": 404, "FORBIDDEN": 403, "UNAUTHORIZED": 401}
M = TypeVar("M", bound=GitHubModel)


def graphql_url(api_url: str) -> str:
    """`https://api.github.com` → `/graphql`; GitHub Enterprise Server `https://host/api/v3` → `/api/graphql`."""
    base = api_url.rstrip("/")
    return base.removesuffix("/v3") + "/graphql" if base.endswith("/api/v3") else base + "/graphql"


def _ref_path(repo: str, branch: str) -> str:
    return f"repos/{repo}/git/refs/heads/{quote(branch, safe='/')}"


class GitHubClient:
    """One GitHub (or GitHub Enterprise Server) API root and token. Repositories are named `owner/name`.
    Thread-safe as httpx.Client is; share one per token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise ValueError("a GitHub token must not be empty")
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url(self.api_url)
        self.policy = policy or RetryPolicy()
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
                   "User-Agent": "ticketpilot", "Authorization": f"Bearer {token}"}
        self._http = httpx.Client(headers=headers, timeout=timeout,
                                  transport=RateLimitTransport(transport or httpx.HTTPTransport()))
        self._pacer = Pacer()
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------------------

    def _send(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None,
              replay_safe: bool = False) -> httpx.Response:
        """A success answer; anything else becomes a GitHubError."""
        request = self._http.build_request(method, url, params=params, json=body)
        try:
            response = send_with_retry(self._http, request, replay_safe=replay_safe, policy=self.policy,
                                       pacer=self._pacer, sleep=self._sleep, service="GitHub")
        except SharedBudgetExceeded as exc:
            raise RetryBudgetExceeded(
                exc.status,
                f"{method} {request.url.path}: GitHub kept rate limiting or failing until waiting longer would pass "
                f"the {self.policy.max_total_wait:g}s retry bound; retry the task later or raise "
                "RetryPolicy.max_total_wait",
            ) from exc
        if not response.is_success:
            raise error_from_response(response)
        return response

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
              replay_safe: bool = False) -> Any:
        response = self._send(method, f"{self.api_url}/{path}", params=params, body=body, replay_safe=replay_safe)
        return response.json() if response.content else None

    def _get(self, path: str, model: type[M], /, **params: Any) -> M:
        return model.model_validate(self._call("GET", path, params=params or None))

    def _paged(self, path: str, model: type[M], /, **params: Any) -> list[M]:
        """Every page of a list, following the `Link: <…>; rel="next"` header."""
        url: str | None = f"{self.api_url}/{path}"
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        items: list[M] = []
        while url:
            response = self._send("GET", url, params=query)
            items += [model.model_validate(item) for item in response.json()]
            url, query = response.links.get("next", {}).get("url"), None
        return items

    # --- repositories and refs ----------------------------------------------------------------------

    def repository(self, repo: str) -> Repository:
        return self._get(f"repos/{repo}", Repository)

    def repository_by_id(self, repository_id: int) -> Repository:
        """The repository with this id, under its current name (ids survive renames and transfers)."""
        return self._get(f"repositories/{repository_id}", Repository)

    def get_ref(self, repo: str, branch: str) -> GitRef | None:
        try:
            return self._get(f"repos/{repo}/git/ref/heads/{quote(branch, safe='/')}", GitRef)
        except GitHubError as exc:
            if exc.status != 404:
                raise
            return None

    def create_ref(self, repo: str, branch: str, sha: str) -> GitRef:
        """Create `branch` at `sha`; a branch already there counts as success, one elsewhere is GitHub's 422."""
        body = {"ref": f"refs/heads/{branch}", "sha": sha}
        try:
            return GitRef.model_validate(self._call("POST", f"repos/{repo}/git/refs", body=body, replay_safe=True))
        except GitHubError as exc:
            existing = self.get_ref(repo, branch) if exc.status == 422 and exc.mentions("already exists") else None
            if existing is None or existing.object.sha != sha:
                raise
            return existing

    def update_ref(self, repo: str, branch: str, sha: str, *, force: bool = False) -> GitRef:
        """Move `branch` to `sha`; without `force` GitHub refuses (422) unless it is a fast-forward."""
        data = self._call("PATCH", _ref_path(repo, branch), body={"sha": sha, "force": force}, replay_safe=True)
        return GitRef.model_validate(data)

    # --- git data -----------------------------------------------------------------------------------

    def create_blob(self, repo: str, content: str) -> str:
        body = {"content": content, "encoding": "utf-8"}
        return ShortBlob.model_validate(self._call("POST", f"repos/{repo}/git/blobs", body=body,
                                                   replay_safe=True)).sha

    def create_tree(self, repo: str, base_tree: str | None, entries: list[dict[str, Any]]) -> str:
        """A tree of `base_tree` with `entries` ({path, mode, type, sha}; sha None deletes) applied."""
        body: dict[str, Any] = {"tree": entries}
        if base_tree is not None:
            body["base_tree"] = base_tree
        return str(self._call("POST", f"repos/{repo}/git/trees", body=body, replay_safe=True)["sha"])

    def create_commit(self, repo: str, message: str, tree: str, parents: list[str]) -> GitCommit:
        """A commit object, not yet on any branch; author and committer are the token's identity."""
        body = {"message": message, "tree": tree, "parents": parents}
        return GitCommit.model_validate(self._call("POST", f"repos/{repo}/git/commits", body=body, replay_safe=True))

    # --- pull requests ------------------------------------------------------------------------------

    def list_pulls(self, repo: str, head: str, state: str = "all") -> list[PullRequest]:
        """PRs from `head` (`owner:branch`), newest first."""
        return self._paged(f"repos/{repo}/pulls", PullRequest, head=head, state=state)

    def get_pull(self, repo: str, number: int) -> PullRequest:
        return self._get(f"repos/{repo}/pulls/{number}", PullRequest)

    def create_pull(self, repo: str, head: str, base: str, title: str, body: str, *, draft: bool) -> PullRequest:
        """Open a PR from branch `head`; when GitHub says one is already open (our replay, or a concurrent
        opener), that one is returned."""
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        try:
            return PullRequest.model_validate(self._call("POST", f"repos/{repo}/pulls", body=payload,
                                                         replay_safe=True))
        except GitHubError as exc:
            if exc.status != 422 or not exc.mentions("already exists"):
                raise
            owner = repo.split("/", 1)[0]
            found = [p for p in self.list_pulls(repo, f"{owner}:{head}", "open") if p.base.ref == base]
            if not found:
                raise
            return found[0]

    def close_pull(self, repo: str, number: int) -> PullRequest:
        """Close without merging (`PATCH state=closed`); closing a closed PR changes nothing, so it replays."""
        data = self._call("PATCH", f"repos/{repo}/pulls/{number}", body={"state": "closed"}, replay_safe=True)
        return PullRequest.model_validate(data)

    def mark_ready_for_review(self, node_id: str) -> None:
        """Draft → ready for review. REST has no endpoint for it; GraphQL's mutation does it."""
        self.graphql(MARK_READY, {"id": node_id})

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """`data` of a GraphQL answer; GraphQL reports failures in `errors` of a 200, raised here."""
        response = self._send("POST", self.graphql_url, body={"query": query, "variables": variables},
                              replay_safe=True)
        answer = GraphQLResponse.model_validate(response.json())
        if answer.errors:
            first = answer.errors[0]
            raise GitHubError(_GRAPHQL_STATUS.get(first.type, 422), "GraphQL: " + first.message,
                              details=[e.message for e in answer.errors[1:]])
        return answer.data or {}

    def merge_pull(self, repo: str, number: int, sha: str, title: str, message: str = "") -> MergeResult:
        """Squash-merge as of head `sha` (GitHub answers 409 if the head moved since, 405 if it will not merge)."""
        body = {"merge_method": "squash", "sha": sha, "commit_title": title}
        if message:
            body["commit_message"] = message
        return MergeResult.model_validate(self._call("PUT", f"repos/{repo}/pulls/{number}/merge", body=body))

    # --- comments and statuses ----------------------------------------------------------------------

    def issue_comments(self, repo: str, number: int) -> list[IssueComment]:
        return self._paged(f"repos/{repo}/issues/{number}/comments", IssueComment)

    def create_issue_comment(self, repo: str, number: int, body: str) -> IssueComment:
        data = self._call("POST", f"repos/{repo}/issues/{number}/comments", body={"body": body})
        return IssueComment.model_validate(data)

    def review_comments(self, repo: str, number: int) -> list[ReviewComment]:
        return self._paged(f"repos/{repo}/pulls/{number}/comments", ReviewComment)

    def create_review_comment(
        self, repo: str, number: int, body: str, commit_id: str, path: str, line: int | None
    ) -> ReviewComment:
        """A comment on `line` of `path` (new side of the diff), or on the whole file when `line` is None."""
        payload: dict[str, Any] = {"body": body, "commit_id": commit_id, "path": path}
        payload |= {"line": line, "side": "RIGHT"} if line is not None else {"subject_type": "file"}
        data = self._call("POST", f"repos/{repo}/pulls/{number}/comments", body=payload)
        return ReviewComment.model_validate(data)

    def create_status(
        self, repo: str, sha: str, state: StatusState, context: str, description: str = "",
        target_url: str | None = None,
    ) -> Status:
        body: dict[str, Any] = {"state": state, "context": context, "description": description}
        if target_url:
            body["target_url"] = target_url
        return Status.model_validate(self._call("POST", f"repos/{repo}/statuses/{sha}", body=body, replay_safe=True))

    def combined_status(self, repo: str, ref: str) -> CombinedStatus:
        """The latest status per context for `ref`, every page of them."""
        path = f"repos/{repo}/commits/{quote(ref, safe='/')}/status"
        combined = self._get(path, CombinedStatus, per_page=PER_PAGE)
        page = 1
        while len(combined.statuses) < combined.total_count:
            page += 1
            more = self._get(path, CombinedStatus, per_page=PER_PAGE, page=page)
            if not more.statuses:
                break
            combined.statuses += more.statuses
        return combined
