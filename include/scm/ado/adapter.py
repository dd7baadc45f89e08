"""The `ado` SCM adapter: the ScmAdapter contract over Azure DevOps REST 7.1 for one tenant's project.

Writes go through REST (pushes, pull requests, threads, statuses), reads of history and content go through
a bare mirror fetched over git's smart HTTP, because the REST commit list truncates messages (and so the
`Ticketpilot-Key` trailers a retry looks for) and has no diff. The credential reaches git only as an
`http.extraHeader` in the environment of each git process (GIT_CONFIG_COUNT/KEY/VALUE), never in a config
file on disk or in argv. Idempotency follows include/scm/base.py: commits by trailer, PRs by source branch,
comments by a hidden marker line, merges by PR status."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx

from include.scm import contract
from include.scm.ado import workitems
from include.scm.ado.auth import BearerAuth, PatAuth, entra_token_provider
from include.scm.ado.client import AdoClient, branch_ref
from include.scm.ado.errors import AdoError
from include.scm.ado.models import AdoModel, IdentityRef, ItemChange, PrComment, PullRequestStatus
from include.scm.ado.models import PullRequest as AdoPullRequest
from include.scm.base import Comment, FileChange, PullRequest, ScmError
from include.scm.changes import plan
from include.scm.connections import read_connection
from include.scm.errors import error_mapper
from include.scm.git import BareRepo, with_trailer
from include.scm.http_retry import RetryPolicy
from include.scm.markers import carries, key_marker, marked, without_markers
from include.scm.mirror import branch_diff, clone_or_refresh, fetch_mirror, header_env
from include.settings import get_settings

STATUS_GENRE = "ticketpilot"
_TRIES = 5  # pushes refused as stale before a moving branch is reported
_HINTS = {
    401: "The credential was refused: renew the PAT (or the Entra principal's access) in the tenant's "
    "Azure DevOps connection.",
    403: "The identity lacks permission: grant it Code (Read & write) and Pull Request Threads on the project.",
    404: "Check that the repository, branch or pull request exists in this project and the identity can see it.",
    409: "Someone changed it concurrently: retry the task.",
    429: "Azure DevOps is throttling this identity: retry the task later.",
    503: "Azure DevOps is unavailable: retry the task later.",
}
_mapped = error_mapper("Azure DevOps", AdoError, _HINTS)


class Repository(AdoModel):
    id: str
    name: str
    default_branch: str = "refs/heads/main"
    remote_url: str
    web_url: str = ""


class RepositoryRef(AdoModel):
    id: str
    name: str


class RepoPullRequest(AdoPullRequest):
    """A pull request as the project-wide endpoints return it: it names its repository."""

    repository: RepositoryRef


class ThreadComment(PrComment):
    author: IdentityRef | None = None


class Thread(AdoModel):
    id: int
    comments: list[ThreadComment] = []
    thread_context: dict[str, Any] | None = None
    is_deleted: bool = False


class AdapterClient(AdoClient):
    """The few REST reads and writes the adapter needs beyond AdoClient."""

    def repository(self, repo: str) -> Repository:
        return self._get(f"git/repositories/{quote(repo, safe='')}", Repository)

    def pr_by_id(self, pr_id: int) -> RepoPullRequest:
        return self._get(f"git/pullrequests/{pr_id}", RepoPullRequest)

    def prs_from(self, repo: str, source: str) -> list[RepoPullRequest]:
        criteria = {"searchCriteria.sourceRefName": branch_ref(source), "searchCriteria.status": "all"}
        return self._list(f"git/repositories/{quote(repo, safe='')}/pullrequests", RepoPullRequest, **criteria)

    def threads(self, repo: str, pr_id: int) -> list[Thread]:
        return self._list(f"git/repositories/{quote(repo, safe='')}/pullRequests/{pr_id}/threads", Thread)

    def open_thread(self, repo: str, pr_id: int, content: str, path: str | None, line: int | None) -> Thread:
        body: dict[str, Any] = {"comments": [{"parentCommentId": 0, "content": content, "commentType": 1}],
                                "status": 1}
        if path is not None:
            start = {"line": line or 1, "offset": 1}
            body["threadContext"] = {"filePath": "/" + path.lstrip("/"), "rightFileStart": start,
                                     "rightFileEnd": start}
        data = self._call("POST", f"git/repositories/{quote(repo, safe='')}/pullRequests/{pr_id}/threads", body=body)
        return Thread.model_validate(data)

    def pr_statuses(self, repo: str, pr_id: int) -> list[PullRequestStatus]:
        return self._list(f"git/repositories/{quote(repo, safe='')}/pullRequests/{pr_id}/statuses", PullRequestStatus)


class AdoAdapter:
    """The ScmAdapter of one tenant over one Azure DevOps project. Repository names are ADO names."""

    def __init__(
        self,
        tenant: str,
        org_url: str,
        project: str,
        auth: httpx.Auth,
        *,
        cache_dir: Path | None = None,
        policy: RetryPolicy | None = None,
        merge_wait: float = 60.0,
    ) -> None:
        self.tenant = tenant
        self.client = AdapterClient(org_url, project, auth=auth, policy=policy)
        self.cache_dir = Path(cache_dir or get_settings().home / "ado-mirrors" / tenant)
        self.merge_wait = merge_wait
        self._auth = auth
        self._repos: dict[str, Repository] = {}


    @classmethod
    def from_connection(cls, tenant: str, conn_id: str | None = None, **kwargs: Any) -> AdoAdapter:
        """The adapter from the tenant's Airflow connection `ado_<tenant>` (include/scm/connections.py): a PAT, or
        Entra ID through azure-identity when the connection's extra says `"auth": "entra"`."""
        conn = read_connection("ado", tenant, conn_id)
        auth = BearerAuth(entra_token_provider()) if conn.auth == "entra" else PatAuth(conn.token)
        return cls(tenant, conn.url, conn.scope, auth, **kwargs)
    def close(self) -> None:
        self.client.close()

    # --- repositories and branches -------------------------------------------------------------------

    @_mapped("reading the repository")
    def _repository(self, repo: str) -> Repository:
        if repo not in self._repos:
            self._repos[repo] = self.client.repository(repo)
        return self._repos[repo]

    def default_branch(self, repo: str) -> str:
        return self._repository(repo).default_branch.removeprefix("refs/heads/")

    @_mapped("reading a branch")
    def head(self, repo: str, branch: str) -> str | None:
        self._repository(repo)
        return self.client.head(repo, branch)

    @_mapped("creating a branch")
    def ensure_branch(self, repo: str, branch: str, from_branch: str) -> str:
        if (tip := self.head(repo, branch)) is not None:
            return tip
        start = self._tip(repo, from_branch)
        try:
            return self.client.create_branch(repo, branch, start).object_id
        except AdoError as exc:  # created by someone else meanwhile: theirs stands, as with local
            if exc.status != 409 or (tip := self.head(repo, branch)) is None:
                raise
            return tip

    def checkout(self, repo: str, branch: str, dest: Path) -> Path:
        """A working copy of `branch` at `dest` (see include/scm/mirror.clone_or_refresh)."""
        remote = self._repository(repo).remote_url
        self._tip(repo, branch)
        return clone_or_refresh(remote, branch, Path(dest), self._git_env())

    @_mapped("pushing a commit")
    def commit_files(
        self, repo: str, branch: str, changes: list[FileChange], message: str, idempotency_key: str
    ) -> str:
        """Push one commit with a `Ticketpilot-Key` trailer on top of the branch tip. Nothing is pushed when
        a commit on this branch (and not on the default branch) carries the key, or when every change leaves
        its file as it is. Returns the branch tip."""
        message = with_trailer(message, contract.KEY_TRAILER, idempotency_key)
        default = self.default_branch(repo)
        exclude = contract.excluded_ref(branch, default)
        self._tip(repo, branch)
        for _ in range(_TRIES):
            mirror = self._mirror(repo, branch, default)
            tip = str(mirror.rev(f"refs/heads/{branch}"))
            if mirror.find_trailer(tip, contract.KEY_TRAILER, idempotency_key, exclude=exclude):
                return tip
            edits = _item_changes(mirror, tip, changes)
            if not edits:
                return tip
            try:
                return self.client.push(repo, branch, tip, message, edits).commit_id
            except AdoError as exc:
                if exc.status != 409:  # 409: the branch moved since the fetch; look again
                    raise
        raise ScmError(f"branch {branch!r} of {repo!r} moved {_TRIES} times during one commit; retry later")

    def _tip(self, repo: str, branch: str) -> str:
        tip = self.head(repo, branch)
        if tip is None:
            raise ScmError(f"unknown branch {branch!r} in Azure DevOps repository {repo!r} of tenant {self.tenant!r}")
        return tip

    def _mirror(self, repo: str, *branches: str) -> BareRepo:
        """The tenant's bare mirror of `repo` with `branches` fetched fresh (history and content reads)."""
        info = self._repository(repo)
        return fetch_mirror(self.cache_dir / f"{info.id}.git", info.remote_url, list(branches), self._git_env())

    def _git_env(self) -> dict[str, str]:
        """The Authorization header the REST client sends, handed to git for this one process."""
        request = httpx.Request("GET", self.client.base_url)
        next(self._auth.sync_auth_flow(request))
        return header_env(request.headers["Authorization"])

    # --- pull requests ------------------------------------------------------------------------------

    @_mapped("looking up pull requests")
    def find_pr(self, repo: str, source_branch: str) -> PullRequest | None:
        """The active PR from `source_branch`, else its most recent one, so a retry sees a finished merge."""
        self._repository(repo)
        found = self.client.prs_from(repo, source_branch)
        found.sort(key=lambda pr: (pr.status == "active", pr.pull_request_id), reverse=True)
        return self._pr(found[0]) if found else None

    @_mapped("opening a pull request")
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
        self._tip(repo, source_branch)
        self._tip(repo, target_branch)
        items = [workitem_id] if workitem_id is not None else []
        opened = self.client.create_pr(repo, source_branch, target_branch, title, description, is_draft=draft,
                                       work_item_ids=items)
        return self.get_pr(opened.pull_request_id)

    @_mapped("reading a pull request")
    def get_pr(self, pr_id: int) -> PullRequest:
        return self._pr(self.client.pr_by_id(pr_id))

    @_mapped("publishing a pull request")
    def publish(self, pr_id: int) -> PullRequest:
        self.client.publish_pr(self._repo_of(pr_id), pr_id)
        return self.get_pr(pr_id)

    @_mapped("commenting on a pull request")
    def comment(
        self, pr_id: int, body: str, idempotency_key: str, *, path: str | None = None, line: int | None = None
    ) -> Comment:
        """A new thread whose content ends in a hidden marker line carrying the key; a thread already holding
        the marker is returned instead, so a retried comment appears once. Keys are unique per PR."""
        marker = key_marker(idempotency_key)
        repo = self._repo_of(pr_id)
        for thread in self.client.threads(repo, pr_id):
            if thread.comments and carries(thread.comments[0].content, marker):
                return _comment(thread)
        return _comment(self.client.open_thread(repo, pr_id, marked(body, marker), path, line))

    @_mapped("reading pull request comments")
    def comments(self, pr_id: int) -> list[Comment]:
        """One Comment per thread (its opening comment), skipping ADO's own system threads."""
        threads = self.client.threads(self._repo_of(pr_id), pr_id)
        return [_comment(t) for t in threads
                if t.comments and not t.is_deleted and t.comments[0].comment_type != "system"]

    @_mapped("posting a pull request status")
    def set_status(self, pr_id: int, context: str, state: str, description: str = "") -> None:
        contract.check_state(state)
        self.client.create_status(self._repo_of(pr_id), pr_id, state, description, context,  # type: ignore[arg-type]
                                  genre=STATUS_GENRE)

    @_mapped("reading pull request statuses")
    def statuses(self, pr_id: int) -> dict[str, str]:
        """The latest state per context; ours by name, other services' as `genre/name`, as ADO shows them."""
        latest: dict[str, str] = {}
        for status in sorted(self.client.pr_statuses(self._repo_of(pr_id), pr_id), key=lambda s: s.id):
            genre, name = status.context.genre, status.context.name
            latest[name if genre in ("", STATUS_GENRE) else f"{genre}/{name}"] = status.state
        return dict(sorted(latest.items()))

    def diff(self, pr_id: int) -> str:
        """Unified diff of the source branch against its merge base with the target, from the mirror."""
        pr = self.get_pr(pr_id)
        mirror = self._mirror(pr.repo, pr.source_branch, pr.target_branch)
        return branch_diff(mirror, pr.target_branch, pr.source_branch)

    @_mapped("completing a pull request")
    def merge(self, pr_id: int, strategy: Literal["squash"] = "squash") -> PullRequest:
        """Complete the PR as of its source tip with a squash merge; a completed PR is returned unchanged.
        Drafts and PRs with failing statuses are refused, as by the local forge."""
        contract.check_strategy(strategy)
        pr = self.get_pr(pr_id)
        if pr.status == "completed":
            return pr
        if pr.status == "abandoned":
            raise ScmError(f"PR {pr_id} was abandoned; open a new PR to merge {pr.source_branch!r}")
        contract.check_not_draft(f"PR {pr_id}", pr.is_draft)
        contract.check_not_failing(f"PR {pr_id}", self.statuses(pr_id))
        source = self._tip(pr.repo, pr.source_branch)
        self.client.complete_pr(pr.repo, pr_id, source, "squash")
        return self._await_completion(pr_id)

    @_mapped("abandoning a pull request")
    def abandon(self, pr_id: int, reason: str, idempotency_key: str) -> PullRequest:
        """Post `reason` as a thread, then set the PR's status to abandoned (see ScmAdapter.abandon)."""
        pr = self.get_pr(pr_id)
        contract.check_abandonable(f"PR {pr_id}", pr.status)
        if pr.status == "abandoned":
            return pr
        self.comment(pr_id, reason, idempotency_key)
        self.client.abandon_pr(pr.repo, pr_id)
        return self.get_pr(pr_id)

    @_mapped("commenting on the work item")
    def comment_work_item(self, workitem_id: int, text: str, idempotency_key: str) -> None:
        """A comment on the ticket's work item, its state untouched (see include/scm/ado/workitems.py). `text` is
        plain text: the board renders comments as HTML, so it is escaped here, where that is known."""
        workitems.comment(self.client, workitem_id, f"<p>{html.escape(text)}</p>", idempotency_key)

    @_mapped("resolving the work item")
    def resolve_work_item(self, workitem_id: int, comment: str) -> None:
        """Move the ticket's work item to Resolved with `comment` (see include/scm/ado/workitems.py)."""
        workitems.resolve(self.client, workitem_id, comment)

    def _await_completion(self, pr_id: int) -> PullRequest:
        """ADO may merge after answering the PATCH; wait a bounded time for the PR to complete."""
        deadline = time.monotonic() + self.merge_wait
        while True:
            raw = self.client.pr_by_id(pr_id)
            if raw.status == "completed":
                return self._pr(raw)
            if raw.merge_status in ("conflicts", "failure", "rejectedByPolicy") or time.monotonic() > deadline:
                raise ScmError(f"PR {pr_id} did not complete (merge status {raw.merge_status!r}); resolve it in "
                               f"Azure DevOps ({self._web_url(raw)}) and re-run the merge")
            time.sleep(1.0)

    def _repo_of(self, pr_id: int) -> str:
        return self.get_pr(pr_id).repo

    def _pr(self, raw: RepoPullRequest) -> PullRequest:
        merged = raw.last_merge_commit if raw.status == "completed" else None
        return PullRequest(
            pr_id=raw.pull_request_id,
            repo=raw.repository.name,
            source_branch=raw.source_ref_name.removeprefix("refs/heads/"),
            target_branch=raw.target_ref_name.removeprefix("refs/heads/"),
            title=raw.title,
            description=raw.description,
            is_draft=raw.is_draft,
            status=raw.status,  # type: ignore[arg-type]
            workitem_id=int(raw.work_item_refs[0].id) if raw.work_item_refs else None,
            merge_commit=merged.commit_id if merged else None,
            url=self._web_url(raw),
        )

    def _web_url(self, raw: RepoPullRequest) -> str:
        project_url = self.client.base_url.removesuffix("/_apis")
        return f"{project_url}/_git/{quote(raw.repository.name)}/pullrequest/{raw.pull_request_id}"


def _item_changes(mirror: BareRepo, tip: str, changes: list[FileChange]) -> list[ItemChange]:
    """FileChanges as ADO push changes against `tip`: add or edit by whether the file exists, delete only
    what exists, and nothing for a file whose content is already as asked (see include/scm/changes.py)."""
    return [ItemChange(change_type="delete", path=e.path) if e.content is None
            else ItemChange(change_type="edit" if e.exists else "add", path=e.path, content=e.content)
            for e in plan(mirror, tip, changes)]


def _comment(thread: Thread) -> Comment:
    first = thread.comments[0]
    body = without_markers(first.content, "key=")
    context = thread.thread_context or {}
    path = context.get("filePath")
    return Comment(
        comment_id=thread.id,
        author=first.author.display_name if first.author else "",
        body=body,
        path=path.lstrip("/") if path else None,
        line=(context.get("rightFileStart") or {}).get("line") if path else None,
    )
