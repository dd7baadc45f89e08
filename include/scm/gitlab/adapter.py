"""The `gitlab` SCM adapter: the ScmAdapter contract over GitLab REST v4 for one tenant's namespace (group).

Writes go through REST (commits API, merge requests, notes, discussions, commit statuses); history and content
are read from a bare mirror fetched over git smart HTTP (see mirror.py). Idempotency follows
include/scm/base.py: branches are looked up before creation, merge requests by source branch, commits by a
`Ticketpilot-Key` trailer, comments by a hidden marker line, merges and closes by merge request state.

Repository names are project paths inside the namespace. PR ids are merge request iids, which GitLab numbers
per project. The adapter a ticket's steps use is bound to the ticket's repository (`repo`, passed by
`include.scm.adapter_for`), so an iid is that project's; an unbound adapter looks an iid it has not met up
across the namespace's projects and refuses one that several projects use rather than guess."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from include.scm import contract
from include.scm.base import Comment, FileChange, PullRequest, ScmError
from include.scm.connections import read_connection
from include.scm.errors import error_mapper
from include.scm.git import check_path, with_trailer
from include.scm.gitlab.client import GitLabClient
from include.scm.gitlab.convert import (
    TO_GITLAB,
    commit_actions,
    from_gitlab_status,
    to_comment,
    to_pull_request,
    undraft,
)
from include.scm.gitlab.errors import GitLabError, OutcomeUnknown
from include.scm.gitlab.mirror import Mirrors, shown_lines
from include.scm.gitlab.models import MergeRequest, Position, Project
from include.scm.http_retry import RetryPolicy
from include.scm.markers import carries, key_marker, marked, with_workitem
from include.scm.mirror import branch_diff
from include.settings import get_settings

_TRIES = 5  # attempts of a write whose answer was lost, or whose files moved under it
_FILES_MOVED = ("A file with this name already exists", "A file with this name doesn't exist")
_HINTS = {
    401: "GitLab refused the token: renew the access token in the tenant's Airflow connection gitlab_<tenant>.",
    403: "The token lacks permission: it needs the `api` scope and at least the Developer role on the project "
    "(Maintainer to merge into a protected branch).",
    404: "Check that the project, branch or merge request exists in this namespace and the token can see it.",
    405: "GitLab will not merge it in its current state (draft, closed, blocked, conflicts or a required pipeline): "
    "see its detailed merge status.",
    406: "The branch has conflicts with its target: resolve them, then re-run the merge.",
    409: "Someone changed it concurrently (for a merge: the source branch moved after it was read): retry the task.",
    422: "GitLab could not merge the branch (usually conflicts with the target): resolve them, then re-run.",
    429: "GitLab is throttling this token: retry the task later.",
    503: "GitLab is unavailable: retry the task later.",
}
_mapped = error_mapper("GitLab", GitLabError, _HINTS)


class GitLabAdapter:
    """The ScmAdapter of one tenant over one GitLab namespace. See the module docstring."""

    def __init__(
        self,
        tenant: str,
        api_url: str,
        token: str,
        *,
        namespace: str = "",
        repo: str | None = None,
        cache_dir: Path | None = None,
        policy: RetryPolicy | None = None,
        page_size: int = 100,
    ) -> None:
        self.tenant = tenant
        self.namespace = namespace.strip("/")
        self.client = GitLabClient(api_url, token, policy=policy, page_size=page_size)
        self.mirrors = Mirrors(Path(cache_dir or get_settings().home / "gitlab-mirrors" / tenant), token)
        self._projects: dict[str, Project] = {}
        self._owners: dict[int, str] = {}  # iid → repo, for merge requests this adapter has met
        self.repo = repo  # the ticket's repository: where an iid met for the first time is looked up

    @classmethod
    def from_connection(cls, tenant: str, conn_id: str | None = None, **kwargs: Any) -> GitLabAdapter:
        """The adapter from the tenant's Airflow connection `gitlab_<tenant>` (include/scm/connections.py): a
        `namespace` argument overrides the connection's extra.namespace; other `kwargs` go to __init__."""
        conn = read_connection("gitlab", tenant, conn_id, overrides={"scope": kwargs.pop("namespace", None)})
        return cls(tenant, conn.url, conn.token, namespace=conn.scope, **kwargs)

    def close(self) -> None:
        self.client.close()

    def project_path(self, repo: str) -> str:
        return f"{self.namespace}/{repo}" if self.namespace else repo

    # --- repositories and branches -------------------------------------------------------------------

    @_mapped("reading the project")
    def _project(self, repo: str) -> Project:
        if repo not in self._projects:
            self._projects[repo] = self.client.project(self.project_path(repo))
        return self._projects[repo]

    def default_branch(self, repo: str) -> str:
        branch = self._project(repo).default_branch
        if branch is None:
            raise ScmError(f"GitLab project {self.project_path(repo)!r} has no default branch: its repository is "
                           "empty; push an initial commit first")
        return branch

    @_mapped("reading a branch")
    def head(self, repo: str, branch: str) -> str | None:
        found = self.client.branch(self._project(repo).path_with_namespace, branch)
        return found.commit.id if found else None

    @_mapped("creating a branch")
    def ensure_branch(self, repo: str, branch: str, from_branch: str) -> str:
        if (tip := self.head(repo, branch)) is not None:
            return tip
        start = self._tip(repo, from_branch)
        try:
            return self.client.create_branch(self.project_path(repo), branch, start).commit.id
        except GitLabError as exc:  # created by someone else meanwhile: theirs stands, as with local
            if exc.status != 409 or (tip := self.head(repo, branch)) is None:
                raise
            return tip

    def checkout(self, repo: str, branch: str, dest: Path) -> Path:
        project = self._project(repo)
        self._tip(repo, branch)
        return self.mirrors.checkout(project, branch, dest)

    @_mapped("committing files")
    def commit_files(
        self, repo: str, branch: str, changes: list[FileChange], message: str, idempotency_key: str
    ) -> str:
        """One commit with a `Ticketpilot-Key` trailer on top of the branch tip. Nothing is committed when a
        commit on this branch (and not on the default branch) carries the key, or when every change leaves its
        file as it is. Returns the branch tip."""
        message = with_trailer(message, contract.KEY_TRAILER, idempotency_key)
        default = self.default_branch(repo)
        exclude = contract.excluded_ref(branch, default)
        self._tip(repo, branch)
        for _ in range(_TRIES):
            mirror = self.mirrors.fetch(self._project(repo), branch, default)
            tip = str(mirror.rev(f"refs/heads/{branch}"))
            if mirror.find_trailer(tip, contract.KEY_TRAILER, idempotency_key, exclude=exclude):
                return tip
            actions = commit_actions(mirror, tip, changes)
            if not actions:
                return tip
            try:
                return self.client.create_commit(self.project_path(repo), branch, message, actions).id
            except OutcomeUnknown:
                continue  # it may have landed: the next fetch looks for the trailer
            except GitLabError as exc:
                if exc.status != 400 or not exc.message.startswith(_FILES_MOVED):
                    raise  # otherwise a file appeared or vanished since the fetch: look again
        raise ScmError(f"branch {branch!r} of GitLab project {self.project_path(repo)!r} kept changing (or GitLab "
                       f"kept losing answers) over {_TRIES} attempts of one commit; retry later")

    def _tip(self, repo: str, branch: str) -> str:
        tip = self.head(repo, branch)
        if tip is None:
            raise ScmError(f"unknown branch {branch!r} in GitLab project {self.project_path(repo)!r} of tenant "
                           f"{self.tenant!r}")
        return tip

    # --- merge requests -----------------------------------------------------------------------------

    @_mapped("looking up merge requests")
    def find_pr(self, repo: str, source_branch: str) -> PullRequest | None:
        """The open MR from `source_branch`, else its most recent one, so a retry sees a finished merge."""
        found = self.client.merge_requests(self._project(repo).path_with_namespace, source_branch)
        found.sort(key=lambda mr: (mr.state == "opened", mr.iid), reverse=True)
        return self._pr(repo, found[0]) if found else None

    @_mapped("opening a merge request")
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
        """Open an MR (a draft through GitLab's `Draft:` title prefix), or return the open one from the same
        source branch. The work item rides in the description as a hidden marker line."""
        self._tip(repo, source_branch)
        self._tip(repo, target_branch)
        body = with_workitem(description, workitem_id)
        opened = self.client.create_merge_request(self.project_path(repo), source_branch, target_branch,
                                                  f"Draft: {title}" if draft else title, body)
        return self._pr(repo, opened)

    @_mapped("reading a merge request")
    def get_pr(self, pr_id: int) -> PullRequest:
        repo = self._repo_of(pr_id)
        return self._pr(repo, self.client.merge_request(self.project_path(repo), pr_id))

    @_mapped("publishing a merge request")
    def publish(self, pr_id: int) -> PullRequest:
        """Draft → ready, by dropping the draft prefix from the title (GitLab derives `draft` from it)."""
        repo = self._repo_of(pr_id)
        raw = self.client.merge_request(self.project_path(repo), pr_id)
        if raw.draft:
            raw = self.client.update_merge_request(self.project_path(repo), pr_id, title=undraft(raw.title))
        return self._pr(repo, raw)

    @_mapped("commenting on a merge request")
    def comment(
        self, pr_id: int, body: str, idempotency_key: str, *, path: str | None = None, line: int | None = None
    ) -> Comment:
        """A note ending in a hidden marker line that carries the key; a note already holding the marker is
        returned instead, so a retried comment appears once. With `path`, a diff thread on that line when the
        merge request's diff shows it, else a plain note that names the place. Keys are unique per MR."""
        marker = key_marker(idempotency_key)
        repo = self._repo_of(pr_id)
        project = self.project_path(repo)
        for _ in range(_TRIES):
            for note in self.client.notes(project, pr_id):
                if carries(note.body, marker):
                    return to_comment(note)
            text = marked(body, marker)
            position = self._position(repo, pr_id, path, line) if path is not None else None
            try:
                if position is not None:
                    return to_comment(self.client.create_discussion(project, pr_id, text, position).notes[0])
                if path is not None:
                    text = f"On `{path}`{f' line {line}' if line else ''}:\n\n{text}"
                return to_comment(self.client.create_note(project, pr_id, text))
            except OutcomeUnknown:
                continue  # it may have landed: the next listing looks for the marker
        raise ScmError(f"GitLab kept losing the answer to a comment on MR !{pr_id} over {_TRIES} attempts; retry later")

    def _position(self, repo: str, pr_id: int, path: str, line: int | None) -> Position | None:
        """Where GitLab takes a diff note on `path` at `line` (its first shown line when None): None when the
        diff does not show that line, since GitLab refuses positions outside the diff."""
        raw = self.client.merge_request(self.project_path(repo), pr_id)
        refs = raw.diff_refs
        if refs is None or not (refs.base_sha and refs.head_sha and refs.start_sha):
            raise ScmError(f"GitLab has not prepared the diff of MR !{pr_id} yet; retry shortly")
        mirror = self.mirrors.fetch(self._project(repo), raw.source_branch, raw.target_branch)
        shown = shown_lines(mirror, refs.base_sha, refs.head_sha, check_path(path))
        line = line if line is not None else min(shown, default=None)
        if line is None or line not in shown:
            return None
        return Position(base_sha=refs.base_sha, start_sha=refs.start_sha, head_sha=refs.head_sha, old_path=path,
                        new_path=path, old_line=shown[line], new_line=line)

    @_mapped("reading merge request comments")
    def comments(self, pr_id: int) -> list[Comment]:
        """Every note people (and we) wrote, oldest first; GitLab's system notes are left out."""
        notes = self.client.notes(self.project_path(self._repo_of(pr_id)), pr_id)
        return [to_comment(note) for note in notes if not note.system]

    @_mapped("posting a commit status")
    def set_status(self, pr_id: int, context: str, state: str, description: str = "") -> None:
        """A commit status named `context` on the MR's head commit; GitLab keeps the latest per name."""
        contract.check_state(state)
        repo = self._repo_of(pr_id)
        raw = self.client.merge_request(self.project_path(repo), pr_id)
        self.client.set_status(self.project_path(repo), self._head_of(repo, raw), TO_GITLAB[state], context,
                               ref=raw.source_branch, description=description)

    @_mapped("reading commit statuses")
    def statuses(self, pr_id: int) -> dict[str, str]:
        """The latest state per name on the MR's head commit (CI jobs included), in our four states."""
        repo = self._repo_of(pr_id)
        raw = self.client.merge_request(self.project_path(repo), pr_id)
        found = self.client.statuses(self.project_path(repo), self._head_of(repo, raw), ref=raw.source_branch)
        return dict(sorted({s.name: from_gitlab_status(s.status) for s in found}.items()))

    def _head_of(self, repo: str, raw: MergeRequest) -> str:
        """The MR's diff head; its source branch tip while GitLab has not recorded one yet."""
        return raw.sha or self._tip(repo, raw.source_branch)

    def diff(self, pr_id: int) -> str:
        """Unified diff of the source branch against its merge base with the target, from the mirror."""
        pr = self.get_pr(pr_id)
        mirror = self.mirrors.fetch(self._project(pr.repo), pr.source_branch, pr.target_branch)
        return branch_diff(mirror, pr.target_branch, pr.source_branch)

    @_mapped("merging a merge request")
    def merge(self, pr_id: int, strategy: Literal["squash"] = "squash") -> PullRequest:
        """Squash-merge as of the source tip (GitLab refuses if it moved); a merged MR is returned unchanged.
        Drafts and MRs with failing statuses are refused, as by the local forge."""
        contract.check_strategy(strategy)
        pr = self.get_pr(pr_id)
        if pr.status == "completed":
            return pr
        if pr.status == "abandoned":
            raise ScmError(f"MR !{pr_id} was closed; open a new merge request to merge {pr.source_branch!r}")
        contract.check_not_draft(f"MR !{pr_id}", pr.is_draft)
        contract.check_not_failing(f"MR !{pr_id}", self.statuses(pr_id))
        project = self.project_path(pr.repo)
        try:
            merged = self.client.merge(project, pr_id, self._tip(pr.repo, pr.source_branch), squash=True)
        except GitLabError as exc:
            if exc.status not in (405, 406, 409, 422):
                raise
            status = self.client.merge_request(project, pr_id).detailed_merge_status
            raise ScmError(f"GitLab refused to merge MR !{pr_id} ({exc}; detailed merge status {status!r}). "
                           f"{_HINTS[exc.status]} {pr.url}") from exc
        if merged.state != "merged":
            raise ScmError(f"MR !{pr_id} did not merge ({merged.merge_error or merged.detailed_merge_status}); "
                           f"resolve it in GitLab ({pr.url}) and re-run the merge")
        return self._pr(pr.repo, merged)

    @_mapped("closing a merge request")
    def abandon(self, pr_id: int, reason: str, idempotency_key: str) -> PullRequest:
        """Post `reason` as a note, then close the MR unmerged (see ScmAdapter.abandon)."""
        pr = self.get_pr(pr_id)
        contract.check_abandonable(f"MR !{pr_id}", pr.status)
        if pr.status == "abandoned":
            return pr
        self.comment(pr_id, reason, idempotency_key)
        closed = self._pr(pr.repo, self.client.close_merge_request(self.project_path(pr.repo), pr_id))
        contract.check_abandonable(f"MR !{pr_id}", closed.status)  # merged by someone else meanwhile
        if closed.status != "abandoned":
            raise ScmError(f"GitLab did not close MR !{pr_id} (it is {closed.status}); close it in GitLab "
                           f"({pr.url}) and re-run the step")
        return closed

    # --- iids and mapping ---------------------------------------------------------------------------

    def _repo_of(self, pr_id: int) -> str:
        """The repository whose merge request has iid `pr_id`: remembered, else found in the namespace."""
        if pr_id in self._owners:
            return self._owners[pr_id]
        if self.repo is not None:  # a ticket's PR ids are its repository's: no guessing across projects
            self._owners[pr_id] = self.repo
            return self.repo
        if not self.namespace:
            raise ScmError(f"MR !{pr_id} was not opened or found through this adapter, and without a namespace "
                           "there is nowhere to look it up; set extra.namespace on the tenant's GitLab connection")
        owners = []
        for project in self.client.group_projects(self.namespace):
            try:
                self.client.merge_request(project.id, pr_id)
            except GitLabError as exc:
                if exc.status != 404:
                    raise
                continue
            owners.append(project.path_with_namespace.removeprefix(f"{self.namespace}/"))
        if not owners:
            raise GitLabError(404, f"no project of namespace {self.namespace!r} has a merge request !{pr_id}")
        if len(owners) > 1:
            raise ScmError(f"MR iid {pr_id} is used by projects {', '.join(sorted(owners))} of namespace "
                           f"{self.namespace!r}; GitLab numbers merge requests per project, so look it up with "
                           "find_pr(repo, source_branch) first, which pins its project for this adapter")
        self._owners[pr_id] = owners[0]
        return owners[0]

    def _pr(self, repo: str, raw: MergeRequest) -> PullRequest:
        self._owners[raw.iid] = repo
        return to_pull_request(repo, raw)
