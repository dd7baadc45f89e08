"""The `local` forge: real bare git repositories under `<forge_dir>/<tenant>/<repo>.git` plus PR records in
PostgreSQL. It is the embedded default so the whole loop (branch, commit, draft PR, review, merge) runs with
no external service, under the same idempotency contract as the hosted adapters. Git is the source of truth
for content: commits and merges carry trailers, so a retry after a crash finds its own earlier work."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, ConfigDict

from include.scm import contract
from include.scm.base import Comment, FileChange, PullRequest, ScmError
from include.scm.contract import KEY_TRAILER
from include.scm.git import BOT_IDENTITY, BareRepo, run_git, with_trailer
from include.settings import get_settings
from include.store.db import connect

PR_TRAILER = "Ticketpilot-PR"
COMMENT_AUTHOR = "ticketpilot"
_TRIES = 5  # compare-and-swap attempts before a moving branch is reported
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PR_COLUMNS = (
    "pr_id, repo, source_branch, target_branch, title, description, is_draft, status, "
    "workitem_id, merge_commit"
)


class LocalForge:
    """The ScmAdapter of one tenant. Each call opens its own short connection, so an instance is cheap to
    create inside a task and safe to share between threads."""

    def __init__(self, tenant: str, forge_dir: Path, db_url: str, *, identity: str = BOT_IDENTITY) -> None:
        self.tenant = _checked_name("tenant", tenant)
        self.forge_dir = Path(forge_dir)
        self.db_url = db_url
        self.identity = identity

    @classmethod
    def from_settings(cls, tenant: str) -> LocalForge:
        settings = get_settings()
        return cls(tenant, settings.forge_dir, settings.require_db())

    # --- repositories and branches -------------------------------------------------------------------

    def repo_path(self, repo: str) -> Path:
        return self.forge_dir / self.tenant / f"{_checked_name('repo', repo)}.git"

    def create_repo(
        self, repo: str, files: dict[str, str], default_branch: str = "main", message: str = "Initial commit"
    ) -> str:
        """Seed a repository with one commit (demo and tests); an existing one is left as it is.
        The repository is built beside its final path and renamed into place, so it appears whole or not."""
        path = self.repo_path(repo)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{repo}-", dir=path.parent))
            try:
                self._checked_branch(staging, default_branch)
                run_git("init", "--quiet", "--bare", f"--initial-branch={default_branch}", ".", cwd=staging)
                seed = BareRepo(staging, self.identity)
                changes = [FileChange(path=p, content=c) for p, c in sorted(files.items())]
                tip = seed.commit(seed.write_tree(None, changes), [], message.rstrip() + "\n")
                seed.swap_ref(f"refs/heads/{default_branch}", tip, None)
                staging.rename(path)
            except OSError:
                if not path.exists():  # a concurrent creator won the rename: fine; anything else is not
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return self._tip(repo, self.default_branch(repo))

    def import_repo(self, repo: str, source: str, default_branch: str | None = None) -> ImportedRepo:
        """Mirror an existing repository (a path or a git URL) into the forge with its whole history: every
        branch and tag, commits byte for byte, so executable bits, binary files and authorship stay as they
        were. `default_branch` is the source's HEAD unless named. An existing repository is left as it is
        (`created` False). Like create_repo, the copy is built beside its final path and renamed into place.

        The source is untrusted: git runs with the host's config ignored, no prompt, only the file, git, http(s)
        and ssh transports (never `ext::`), and nothing of the source's config or hooks is copied."""
        path = self.repo_path(repo)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{repo}-", dir=path.parent))
            try:
                run_git("clone", "--quiet", "--bare", "--no-hardlinks", "--", source, str(staging),
                        cwd=path.parent, env=IMPORT_ENV)
                run_git("remote", "remove", "origin", cwd=staging)
                _import_head(BareRepo(staging, self.identity), source, default_branch)
                staging.rename(path)
            except OSError:
                if not path.exists():
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            created = True
        else:
            created = False
        bare = self._repo(repo)
        branch = self.default_branch(repo)
        return ImportedRepo(
            repo=repo, default_branch=branch, tip=self._tip(repo, branch), created=created,
            commits=int(bare.git("rev-list", "--count", "--all").strip() or 0),
            branches=sorted(bare.git("for-each-ref", "--format=%(refname:short)", "refs/heads").split()),
            tags=sorted(bare.git("for-each-ref", "--format=%(refname:short)", "refs/tags").split()),
        )

    def default_branch(self, repo: str) -> str:
        ref = self._repo(repo).git("symbolic-ref", "HEAD").strip()
        return ref.removeprefix("refs/heads/")

    def head(self, repo: str, branch: str) -> str | None:
        return self._repo(repo).rev(f"refs/heads/{branch}")

    def ensure_branch(self, repo: str, branch: str, from_branch: str) -> str:
        bare = self._repo(repo)
        self._checked_branch(bare.path, branch)
        for _ in range(_TRIES):
            if (tip := self.head(repo, branch)) is not None:
                return tip
            start = self._tip(repo, from_branch)
            if bare.swap_ref(f"refs/heads/{branch}", start, None):
                return start
        raise ScmError(f"branch {branch!r} of {repo!r} keeps changing while it is created; retry later")

    def checkout(self, repo: str, branch: str, dest: Path) -> Path:
        """Clone into `dest`, or bring an existing clone of this repository to the branch tip (discarding
        local edits: the copy is for reading and running, writes go through commit_files)."""
        source = self.repo_path(repo)
        self._tip(repo, branch)
        dest = Path(dest)
        if not (dest / ".git").is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
            run_git("clone", "--quiet", f"--branch={branch}", "--", str(source), str(dest), cwd=dest.parent)
            return dest
        origin = run_git("config", "--get", "remote.origin.url", cwd=dest, ok=(0, 1)).stdout.strip()
        if Path(origin).resolve() != source.resolve():
            raise ScmError(f"{dest} is a clone of {origin or 'nothing'!r}, not of {source}; use another dest")
        run_git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}", cwd=dest)
        run_git("checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{branch}", cwd=dest)
        run_git("clean", "--quiet", "-ffd", cwd=dest)
        return dest

    def commit_files(
        self, repo: str, branch: str, changes: list[FileChange], message: str, idempotency_key: str
    ) -> str:
        """Commit on top of the branch tip with a `Ticketpilot-Key` trailer. Nothing is committed when a
        commit on this branch (and not yet on the default branch) carries the key, or when the changes
        leave the tree as it is. Returns the branch tip."""
        bare = self._repo(repo)
        message = with_trailer(message, KEY_TRAILER, idempotency_key)
        exclude = contract.excluded_ref(branch, self.default_branch(repo))
        for _ in range(_TRIES):
            tip = self._tip(repo, branch)
            if bare.find_trailer(tip, KEY_TRAILER, idempotency_key, exclude=exclude):
                return tip
            tree = bare.write_tree(tip, changes)
            if tree == bare.git("rev-parse", f"{tip}^{{tree}}").strip():
                return tip
            new = bare.commit(tree, [tip], message)
            if bare.swap_ref(f"refs/heads/{branch}", new, tip):
                return new
        raise ScmError(f"branch {branch!r} of {repo!r} moved {_TRIES} times during one commit; retry later")

    def _repo(self, repo: str) -> BareRepo:
        path = self.repo_path(repo)
        if not (path / "HEAD").is_file():
            raise ScmError(
                f"unknown repository {repo!r} for tenant {self.tenant!r}: no bare repository at {path}"
            )
        return BareRepo(path, self.identity)

    def _tip(self, repo: str, branch: str) -> str:
        tip = self.head(repo, branch)
        if tip is None:
            raise ScmError(f"unknown branch {branch!r} in repository {repo!r} of tenant {self.tenant!r}")
        return tip

    @staticmethod
    def _checked_branch(cwd: Path, branch: str) -> str:
        proc = run_git("check-ref-format", f"refs/heads/{branch}", cwd=cwd, ok=(0, 1))
        if proc.returncode != 0:
            raise ScmError(f"{branch!r} is not a valid git branch name")
        return branch

    # --- pull requests ------------------------------------------------------------------------------

    def find_pr(self, repo: str, source_branch: str) -> PullRequest | None:
        """The active PR from `source_branch`, else its most recent one, so a retry sees a finished merge."""
        with self._db() as conn:
            row = conn.execute(
                f"SELECT {_PR_COLUMNS} FROM ticketpilot.pull_requests "
                "WHERE tenant_id = %s AND repo = %s AND source_branch = %s "
                "ORDER BY (status = 'active') DESC, pr_id DESC LIMIT 1",
                (self.tenant, repo, source_branch),
            ).fetchone()
        return self._pr(row) if row else None

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
        with self._db() as conn:
            # The partial unique index allows one active PR per source branch; losing that race is fine.
            conn.execute(
                "INSERT INTO ticketpilot.pull_requests "
                "(tenant_id, repo, source_branch, target_branch, title, description, is_draft, workitem_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (tenant_id, repo, source_branch) WHERE status = 'active' DO NOTHING",
                (self.tenant, repo, source_branch, target_branch, title, description, draft, workitem_id),
            )
            row = conn.execute(
                f"SELECT {_PR_COLUMNS} FROM ticketpilot.pull_requests "
                "WHERE tenant_id = %s AND repo = %s AND source_branch = %s AND status = 'active'",
                (self.tenant, repo, source_branch),
            ).fetchone()
        if row is None:
            raise ScmError(f"the active PR from {source_branch!r} in {repo!r} closed while being opened")
        return self._pr(row)

    def get_pr(self, pr_id: int) -> PullRequest:
        with self._db() as conn:
            return self._pr(self._pr_row(conn, pr_id))

    def publish(self, pr_id: int) -> PullRequest:
        with self._db() as conn:
            self._pr_row(conn, pr_id)
            conn.execute("UPDATE ticketpilot.pull_requests SET is_draft = false WHERE pr_id = %s", (pr_id,))
            return self._pr(self._pr_row(conn, pr_id))

    def comment(
        self, pr_id: int, body: str, idempotency_key: str, *, path: str | None = None, line: int | None = None
    ) -> Comment:
        with self._db() as conn:
            self._pr_row(conn, pr_id)
            conn.execute(
                "INSERT INTO ticketpilot.pr_comments (pr_id, author, body, path, line, idempotency_key) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING",
                (pr_id, COMMENT_AUTHOR, body, path, line, idempotency_key),
            )
            row = conn.execute(
                "SELECT comment_id, pr_id, author, body, path, line FROM ticketpilot.pr_comments "
                "WHERE idempotency_key = %s",
                (idempotency_key,),
            ).fetchone()
        if row["pr_id"] != pr_id:
            used_on = row["pr_id"]
            raise ScmError(f"comment key {idempotency_key!r} is already used on PR {used_on}, not {pr_id}")
        return Comment(**{k: v for k, v in row.items() if k != "pr_id"})

    def comments(self, pr_id: int) -> list[Comment]:
        with self._db() as conn:
            self._pr_row(conn, pr_id)
            rows = conn.execute(
                "SELECT comment_id, author, body, path, line FROM ticketpilot.pr_comments "
                "WHERE pr_id = %s ORDER BY comment_id",
                (pr_id,),
            ).fetchall()
        return [Comment(**row) for row in rows]

    def set_status(self, pr_id: int, context: str, state: str, description: str = "") -> None:
        contract.check_state(state)
        with self._db() as conn:
            self._pr_row(conn, pr_id)
            conn.execute(
                "INSERT INTO ticketpilot.pr_statuses (pr_id, context, state, description) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (pr_id, context) DO UPDATE "
                "SET state = EXCLUDED.state, description = EXCLUDED.description, updated_at = now()",
                (pr_id, context, state, description),
            )

    def statuses(self, pr_id: int) -> dict[str, str]:
        with self._db() as conn:
            self._pr_row(conn, pr_id)
            rows = conn.execute(
                "SELECT context, state FROM ticketpilot.pr_statuses WHERE pr_id = %s ORDER BY context",
                (pr_id,),
            ).fetchall()
        return {row["context"]: row["state"] for row in rows}

    def diff(self, pr_id: int) -> str:
        pr = self.get_pr(pr_id)
        target, source = self._tip(pr.repo, pr.target_branch), self._tip(pr.repo, pr.source_branch)
        return self._repo(pr.repo).git("diff", f"{target}...{source}", "--")

    def merge(self, pr_id: int, strategy: Literal["squash"] = "squash") -> PullRequest:
        """Squash the source onto the current target tip as one commit with a `Ticketpilot-PR` trailer.
        Git is checked before the PR row: a merge whose commit landed but whose row was never written
        (a crash in between) is only recorded, never made twice."""
        contract.check_strategy(strategy, " by the local forge")
        pr = self.get_pr(pr_id)
        if pr.status == "completed":
            return pr
        if pr.status == "abandoned":
            raise ScmError(f"PR {pr_id} was abandoned; open a new PR to merge {pr.source_branch!r}")
        bare = self._repo(pr.repo)
        target_ref = f"refs/heads/{pr.target_branch}"
        message = with_trailer(
            f"{pr.title} (#{pr_id})\n\n{pr.description}".rstrip(), PR_TRAILER, str(pr_id)
        )
        for attempt in range(_TRIES):
            target = self._tip(pr.repo, pr.target_branch)
            if merged := bare.find_trailer(target, PR_TRAILER, str(pr_id)):
                return self._record_merge(pr_id, merged)
            if attempt == 0:
                self._check_mergeable(pr)
            tree, conflicts = bare.merge_tree(target, self._tip(pr.repo, pr.source_branch))
            if conflicts:
                raise ScmError(
                    f"PR {pr_id} conflicts with {pr.target_branch!r} in: {', '.join(conflicts)}; "
                    f"update {pr.source_branch!r} from {pr.target_branch!r} and resolve them"
                )
            commit = bare.commit(tree, [target], message)
            if bare.swap_ref(target_ref, commit, target):
                return self._record_merge(pr_id, commit)
        raise ScmError(f"{pr.target_branch!r} of {pr.repo!r} moved {_TRIES} times during merging; retry")

    def abandon(self, pr_id: int, reason: str, idempotency_key: str) -> PullRequest:
        """Comment, then mark the row abandoned. Git is checked first, as by merge: a PR whose merge commit
        landed without its row being written is recorded as merged and refused, never hidden as abandoned."""
        pr = self.get_pr(pr_id)
        if pr.status == "active":
            tip = self._tip(pr.repo, pr.target_branch)
            if merged := self._repo(pr.repo).find_trailer(tip, PR_TRAILER, str(pr_id)):
                pr = self._record_merge(pr_id, merged)
        contract.check_abandonable(f"PR {pr_id}", pr.status)
        if pr.status == "abandoned":
            return pr
        self.comment(pr_id, reason, idempotency_key)
        with self._db() as conn:
            conn.execute(
                "UPDATE ticketpilot.pull_requests SET status = 'abandoned', completed_at = now() "
                "WHERE pr_id = %s AND tenant_id = %s AND status = 'active'",
                (pr_id, self.tenant),
            )
            pr = self._pr(self._pr_row(conn, pr_id))
        contract.check_abandonable(f"PR {pr_id}", pr.status)  # merged by someone else meanwhile
        return pr

    def _check_mergeable(self, pr: PullRequest) -> None:
        contract.check_not_draft(f"PR {pr.pr_id}", pr.is_draft)
        contract.check_not_failing(f"PR {pr.pr_id}", self.statuses(pr.pr_id))

    def _record_merge(self, pr_id: int, commit: str) -> PullRequest:
        with self._db() as conn:
            conn.execute(
                "UPDATE ticketpilot.pull_requests "
                "SET status = 'completed', merge_commit = %s, completed_at = now() "
                "WHERE pr_id = %s AND tenant_id = %s AND status = 'active'",
                (commit, pr_id, self.tenant),
            )
            return self._pr(self._pr_row(conn, pr_id))

    def _db(self) -> psycopg.Connection:
        return connect(self.db_url, autocommit=True)

    def _pr_row(self, conn: psycopg.Connection, pr_id: int) -> dict[str, Any]:
        row = conn.execute(
            f"SELECT {_PR_COLUMNS} FROM ticketpilot.pull_requests WHERE pr_id = %s AND tenant_id = %s",
            (pr_id, self.tenant),
        ).fetchone()
        if row is None:
            raise ScmError(f"unknown PR {pr_id} for tenant {self.tenant!r}")
        return row

    def _pr(self, row: dict[str, Any]) -> PullRequest:
        return PullRequest(**row, url=f"local://{self.tenant}/{row['repo']}/pull/{row['pr_id']}")


class ImportedRepo(BaseModel):
    """What `import_repo` left in the forge: the history it holds, and whether this call created it."""

    model_config = ConfigDict(frozen=True)

    repo: str
    default_branch: str
    tip: str
    commits: int
    branches: list[str]
    tags: list[str]
    created: bool


IMPORT_ENV = {"GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh"}
"""Transports an imported source may use: `ext::` (runs a command) and `fd::` are refused."""


def _import_head(bare: BareRepo, source: str, default_branch: str | None) -> None:
    """Point the copy's HEAD at `default_branch` (else keep the source's), refusing an empty source or a HEAD
    that names no branch of it, with what the person can do about it."""
    branches = bare.git("for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    if not branches:
        raise ScmError(f"{source} has no branches with commits: nothing to import")
    if default_branch is None:
        head = run_git("symbolic-ref", "--quiet", "HEAD", cwd=bare.path, ok=(0, 1)).stdout.strip()
        default_branch = head.removeprefix("refs/heads/")
    if not default_branch:
        raise ScmError(f"{source}'s HEAD names no branch (detached); name one of {', '.join(sorted(branches))} "
                       "as the default branch")
    if default_branch not in branches:
        raise ScmError(f"{source} has no branch {default_branch!r} to use as the default branch; its branches: "
                       f"{', '.join(sorted(branches))} (name one as the default branch)")
    bare.git("symbolic-ref", "HEAD", f"refs/heads/{default_branch}")


def _checked_name(kind: str, name: str) -> str:
    """Tenant and repo names become path components, so they may not climb out of the forge."""
    if not _NAME.fullmatch(name) or name.endswith(".git"):
        raise ScmError(f"{kind} name {name!r} must be letters, digits, '.', '_' or '-' (and not end in .git)")
    return name
