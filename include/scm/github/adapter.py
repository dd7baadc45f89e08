"""The `github` SCM adapter: the ScmAdapter contract over GitHub REST for one tenant's repositories, which
belong to one owner (user or organisation); a bare repository name is taken as `<owner>/<name>`.

Writes go through REST: commits through the Git Data API (blobs, a tree on the tip's tree, a commit, then a
non-force ref update that GitHub refuses unless it fast-forwards, so a moved branch is retried, never
overwritten). Reads of history and content go through a bare mirror fetched over git's smart HTTP (see
include/scm/mirror.py), with the token as Basic credentials for the user `x-access-token`, the form that works
for PATs and GitHub App installation tokens alike. Idempotency follows include/scm/base.py: branches are
looked up before creation, PRs by source branch, commits by a `Ticketpilot-Key` trailer, comments by a hidden
marker line, merges and closes by PR state.

GitHub differences the contract absorbs: PR ids pack repository id and number (ids.py); the work item id
rides in the PR body as a hidden marker; statuses belong to the head commit, so a new commit starts with
none; GitHub opens no PR for a branch without commits; a line comment outside the diff's hunks goes on the
whole file instead, prefixed with the line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import httpx

from include.scm import contract
from include.scm.base import Comment, FileChange, PullRequest, ScmError
from include.scm.changes import REGULAR, plan
from include.scm.connections import read_connection
from include.scm.git import BareRepo, check_path, with_trailer
from include.scm.github.client import GitHubClient
from include.scm.github.errors import GitHubError, mapped
from include.scm.github.ids import pack_pr_id, unpack_pr_id
from include.scm.github.models import IssueComment, Repository, ReviewComment, StatusState
from include.scm.github.models import PullRequest as GitHubPullRequest
from include.scm.http_retry import RetryPolicy
from include.scm.markers import carries, key_marker, marked, with_workitem, without_markers, workitem_of
from include.scm.mirror import basic_env, branch_diff, clone_or_refresh, fetch_mirror
from include.settings import get_settings

_TRIES = 5  # ref updates refused as non-fast-forward (or comment posts cut off) before giving up
_NAME_PART = re.compile(r"[A-Za-z0-9_.-]+")
_TO_GITHUB: dict[str, StatusState] = {"pending": "pending", "succeeded": "success", "failed": "failure",
                                      "error": "error"}
_FROM_GITHUB = {v: k for k, v in _TO_GITHUB.items()}
STATUS_DESCRIPTION_MAX = 140  # GitHub refuses longer status descriptions (422)


class GitHubAdapter:
    """The ScmAdapter of one tenant whose repositories belong to `owner` on the GitHub at `api_url`."""

    def __init__(
        self,
        tenant: str,
        api_url: str,
        token: str,
        *,
        owner: str,
        cache_dir: Path | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.tenant = tenant
        self.owner = owner
        self.client = GitHubClient(api_url, token, policy=policy, transport=transport)
        self.cache_dir = Path(cache_dir or get_settings().home / "github-mirrors" / tenant)
        self._git_env = basic_env("x-access-token", token)
        self._repos: dict[str, Repository] = {}
        self._repos_by_id: dict[int, Repository] = {}

    @classmethod
    def from_connection(
        cls, tenant: str, conn_id: str | None = None, *, owner: str | None = None, **kwargs: Any
    ) -> GitHubAdapter:
        """The adapter from the tenant's Airflow connection `github_<tenant>` (include/scm/connections.py); `owner`
        overrides the connection's extra.owner; `kwargs` go to __init__ (cache_dir, policy, transport)."""
        conn = read_connection("github", tenant, conn_id, overrides={"scope": owner})
        return cls(tenant, conn.url, conn.token, owner=conn.scope, **kwargs)

    def close(self) -> None:
        self.client.close()

    # --- repositories and branches -------------------------------------------------------------------

    @mapped("reading the repository")
    def _repository(self, repo: str) -> Repository:
        parts = repo.split("/")
        if len(parts) > 2 or not all(_NAME_PART.fullmatch(p) and p not in (".", "..") for p in parts):
            raise ScmError(f"repository {repo!r} must be 'name' or 'owner/name'")
        full = repo if "/" in repo else f"{self.owner}/{repo}"
        if full not in self._repos:
            self._remember(self.client.repository(full))
        return self._repos[full]

    def _repository_by_id(self, repository_id: int) -> Repository:
        if repository_id not in self._repos_by_id:
            self._remember(self.client.repository_by_id(repository_id))
        return self._repos_by_id[repository_id]

    def _remember(self, info: Repository) -> None:
        self._repos[info.full_name] = self._repos_by_id[info.id] = info

    def default_branch(self, repo: str) -> str:
        return self._repository(repo).default_branch

    @mapped("reading a branch")
    def head(self, repo: str, branch: str) -> str | None:
        ref = self.client.get_ref(self._repository(repo).full_name, branch)
        return ref.object.sha if ref else None

    @mapped("creating a branch")
    def ensure_branch(self, repo: str, branch: str, from_branch: str) -> str:
        if (tip := self.head(repo, branch)) is not None:
            return tip
        start = self._tip(repo, from_branch)
        try:
            return self.client.create_ref(self._repository(repo).full_name, branch, start).object.sha
        except GitHubError as exc:  # created by someone else meanwhile: theirs stands, as with local
            if exc.status != 422 or (tip := self.head(repo, branch)) is None:
                raise
            return tip

    def checkout(self, repo: str, branch: str, dest: Path) -> Path:
        """A working copy of `branch` at `dest` (see include/scm/mirror.clone_or_refresh)."""
        remote = self._repository(repo).clone_url
        self._tip(repo, branch)
        return clone_or_refresh(remote, branch, Path(dest), self._git_env)

    @mapped("committing files")
    def commit_files(
        self, repo: str, branch: str, changes: list[FileChange], message: str, idempotency_key: str
    ) -> str:
        """One commit with a `Ticketpilot-Key` trailer on top of the branch tip. Nothing is committed when a
        commit on this branch (and not on the default branch) carries the key, or when every change leaves
        its file as it is. Returns the branch tip."""
        for change in changes:
            check_path(change.path)
        message = with_trailer(message, contract.KEY_TRAILER, idempotency_key)
        full, default = self._repository(repo).full_name, self.default_branch(repo)
        exclude = contract.excluded_ref(branch, default)
        self._tip(repo, branch)
        for _ in range(_TRIES):
            mirror = self._mirror(repo, branch, default)
            tip = str(mirror.rev(f"refs/heads/{branch}"))
            if mirror.find_trailer(tip, contract.KEY_TRAILER, idempotency_key, exclude=exclude):
                return tip
            entries = self._tree_entries(full, mirror, tip, changes)
            if not entries:
                return tip
            tree = self.client.create_tree(full, mirror.git("rev-parse", f"{tip}^{{tree}}").strip(), entries)
            commit = self.client.create_commit(full, message, tree, [tip])
            try:
                return self.client.update_ref(full, branch, commit.sha).object.sha
            except GitHubError as exc:
                if exc.status != 422:  # 422: no longer a fast-forward, the branch moved; look again
                    raise
        raise ScmError(f"branch {branch!r} of {repo!r} moved {_TRIES} times during one commit; retry later")

    def _tree_entries(self, full: str, mirror: BareRepo, tip: str, changes: list[FileChange]) -> list[dict[str, Any]]:
        """Tree entries for the changes that change something: a blob per new content (uploaded, and checked
        against git's own hash of it), `sha: None` for each deletion of a file that exists. Executable files
        stay executable."""
        entries: list[dict[str, Any]] = []
        for edit in plan(mirror, tip, changes):
            if edit.content is None:
                entries.append({"path": edit.path, "mode": edit.mode, "type": "blob", "sha": None})
                continue
            uploaded = self.client.create_blob(full, edit.content)
            if uploaded != edit.blob:
                raise ScmError(f"GitHub stored {edit.path!r} as blob {uploaded}, git hashes it as {edit.blob}: "
                               "the content did not arrive intact; retry the task")
            entries.append({"path": edit.path, "mode": "100755" if edit.mode == "100755" else REGULAR,
                            "type": "blob", "sha": uploaded})
        return entries

    def _tip(self, repo: str, branch: str) -> str:
        tip = self.head(repo, branch)
        if tip is None:
            raise ScmError(f"unknown branch {branch!r} in GitHub repository {repo!r} of tenant {self.tenant!r}")
        return tip

    def _mirror(self, repo: str, *branches: str) -> BareRepo:
        info = self._repository(repo)
        return fetch_mirror(self.cache_dir / f"{info.id}.git", info.clone_url, list(branches), self._git_env)

    # --- pull requests ------------------------------------------------------------------------------

    @mapped("looking up pull requests")
    def find_pr(self, repo: str, source_branch: str) -> PullRequest | None:
        """The open PR from `source_branch`, else its most recent one, so a retry sees a finished merge."""
        info = self._repository(repo)
        found = self.client.list_pulls(info.full_name, f"{info.owner.login}:{source_branch}")
        found.sort(key=lambda pr: (pr.state == "open", pr.number), reverse=True)
        return self._pr(info, found[0]) if found else None

    @mapped("opening a pull request")
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
        """Open a PR, or return the open one from the same source branch."""
        info = self._repository(repo)
        self._tip(repo, source_branch)
        self._tip(repo, target_branch)
        already = self.client.list_pulls(info.full_name, f"{info.owner.login}:{source_branch}", "open")
        if already:
            return self._pr(info, already[0])
        body = with_workitem(description, workitem_id)
        try:
            raw = self.client.create_pull(info.full_name, source_branch, target_branch, title, body, draft=draft)
        except GitHubError as exc:
            if exc.status == 422 and exc.mentions("no commits between"):
                raise ScmError(f"GitHub opens no pull request for a branch without commits: {source_branch!r} has "
                               f"nothing that {target_branch!r} lacks; commit to it first") from exc
            raise
        return self._pr(info, raw)

    @mapped("reading a pull request")
    def get_pr(self, pr_id: int) -> PullRequest:
        return self._pr(*self._pull(pr_id))

    @mapped("publishing a pull request")
    def publish(self, pr_id: int) -> PullRequest:
        """Draft → ready for review through GraphQL's markPullRequestReadyForReview. A replay whose first
        attempt landed finds the PR no longer a draft and counts as done."""
        info, raw = self._pull(pr_id)
        if raw.draft:
            try:
                self.client.mark_ready_for_review(raw.node_id)
            except GitHubError:
                if self.client.get_pull(info.full_name, raw.number).draft:
                    raise
        return self.get_pr(pr_id)

    @mapped("commenting on a pull request")
    def comment(
        self, pr_id: int, body: str, idempotency_key: str, *, path: str | None = None, line: int | None = None
    ) -> Comment:
        """An issue comment (or, with `path`, a review comment on the head commit) whose body ends in a hidden
        marker line carrying the key; a comment already holding the marker is returned instead, so a retried
        comment appears once. After a connection cut mid-post the comments are read again before reposting."""
        marker = key_marker(idempotency_key)
        if path is not None:
            check_path(path)
        info, raw = self._pull(pr_id)
        text = marked(body, marker)
        for _ in range(_TRIES):
            found = [c for c in self._comments(info, raw.number) if carries(c.body, marker)]
            if found:
                return _comment(found[0])
            try:
                return _comment(self._post_comment(info, raw, text, path, line))
            except httpx.TransportError:
                continue
        raise ScmError(f"the connection to GitHub broke {_TRIES} times while commenting on PR {pr_id}; retry later")

    def _post_comment(
        self, info: Repository, raw: GitHubPullRequest, text: str, path: str | None, line: int | None
    ) -> IssueComment | ReviewComment:
        if path is None:
            return self.client.create_issue_comment(info.full_name, raw.number, text)
        try:
            return self.client.create_review_comment(info.full_name, raw.number, text, raw.head.sha, path, line)
        except GitHubError as exc:
            if line is None or exc.status != 422:
                raise
        # GitHub takes line comments only inside the diff's hunks; the finding still belongs on the file.
        return self.client.create_review_comment(info.full_name, raw.number, f"Line {line}: {text}", raw.head.sha,
                                                 path, None)

    @mapped("reading pull request comments")
    def comments(self, pr_id: int) -> list[Comment]:
        """Issue and review comments of the PR, oldest first."""
        info, raw = self._pull(pr_id)
        return [_comment(c) for c in self._comments(info, raw.number)]

    def _comments(self, info: Repository, number: int) -> list[IssueComment | ReviewComment]:
        found = [*self.client.issue_comments(info.full_name, number), *self.client.review_comments(info.full_name,
                                                                                                   number)]
        return sorted(found, key=lambda c: (c.created_at, c.id))

    @mapped("posting a commit status")
    def set_status(self, pr_id: int, context: str, state: str, description: str = "") -> None:
        """A commit status on the PR's head commit (descriptions are cut to GitHub's 140 characters)."""
        contract.check_state(state)
        if len(description) > STATUS_DESCRIPTION_MAX:
            description = description[: STATUS_DESCRIPTION_MAX - 1] + "…"
        info, raw = self._pull(pr_id)
        self.client.create_status(info.full_name, raw.head.sha, _TO_GITHUB[state], context, description)

    @mapped("reading commit statuses")
    def statuses(self, pr_id: int) -> dict[str, str]:
        """The latest state per context on the PR's head commit."""
        info, raw = self._pull(pr_id)
        combined = self.client.combined_status(info.full_name, raw.head.sha)
        return dict(sorted((s.context, _FROM_GITHUB[s.state]) for s in combined.statuses))

    def diff(self, pr_id: int) -> str:
        """Unified diff of the source branch against its merge base with the target, from the mirror."""
        pr = self.get_pr(pr_id)
        mirror = self._mirror(pr.repo, pr.source_branch, pr.target_branch)
        return branch_diff(mirror, pr.target_branch, pr.source_branch)

    @mapped("merging a pull request")
    def merge(self, pr_id: int, strategy: Literal["squash"] = "squash") -> PullRequest:
        """Squash-merge the PR as of its head commit; a merged PR is returned unchanged. Drafts, closed PRs,
        conflicts and failing statuses are refused, as by the local forge."""
        contract.check_strategy(strategy)
        info, raw = self._pull(pr_id)
        if raw.is_merged:
            return self._pr(info, raw)
        if raw.state == "closed":
            raise ScmError(f"PR {pr_id} was closed without merging; open a new PR to merge {raw.head.ref!r}")
        contract.check_not_draft(f"PR {pr_id}", raw.draft)
        if raw.mergeable is False and raw.mergeable_state == "dirty":
            raise ScmError(f"PR {pr_id} has merge conflicts with {raw.base.ref!r}; update {raw.head.ref!r} from "
                           f"{raw.base.ref!r} and resolve them")
        contract.check_not_failing(f"PR {pr_id}", self.statuses(pr_id))
        message = without_markers(raw.body or "")
        try:
            self.client.merge_pull(info.full_name, raw.number, raw.head.sha, f"{raw.title} (#{raw.number})", message)
        except GitHubError:  # a replay after a lost answer finds the PR merged by the first attempt
            if not self.client.get_pull(info.full_name, raw.number).is_merged:
                raise
        return self.get_pr(pr_id)

    @mapped("closing a pull request")
    def abandon(self, pr_id: int, reason: str, idempotency_key: str) -> PullRequest:
        """Post `reason` as an issue comment, then close the PR unmerged (see ScmAdapter.abandon)."""
        info, raw = self._pull(pr_id)
        pr = self._pr(info, raw)
        contract.check_abandonable(f"PR {pr_id}", pr.status)
        if pr.status == "abandoned":
            return pr
        self.comment(pr_id, reason, idempotency_key)
        self.client.close_pull(info.full_name, raw.number)
        pr = self.get_pr(pr_id)
        contract.check_abandonable(f"PR {pr_id}", pr.status)  # merged by someone else meanwhile
        return pr

    def _pull(self, pr_id: int) -> tuple[Repository, GitHubPullRequest]:
        repository_id, number = unpack_pr_id(pr_id)
        info = self._repository_by_id(repository_id)
        return info, self.client.get_pull(info.full_name, number)

    def _pr(self, info: Repository, raw: GitHubPullRequest) -> PullRequest:
        status = "active" if raw.state == "open" else "completed" if raw.is_merged else "abandoned"
        body = raw.body or ""
        return PullRequest(
            pr_id=pack_pr_id(info.id, raw.number),
            repo=info.name if info.owner.login.lower() == self.owner.lower() else info.full_name,
            source_branch=raw.head.ref,
            target_branch=raw.base.ref,
            title=raw.title,
            description=without_markers(body),
            is_draft=raw.draft,
            status=status,
            workitem_id=workitem_of(body),
            merge_commit=raw.merge_commit_sha if status == "completed" else None,
            url=raw.html_url,
        )


def _comment(raw: IssueComment | ReviewComment) -> Comment:
    path = raw.path if isinstance(raw, ReviewComment) else None
    line = raw.line if isinstance(raw, ReviewComment) else None
    return Comment(comment_id=raw.id, author=raw.user.login if raw.user else "", body=without_markers(raw.body),
                   path=path, line=line)
