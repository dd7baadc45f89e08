"""A scratch working copy per step, and the two views of change an agent needs: which files a tool
rewrote in that copy (to commit them) and what a PR's unified diff touches (to size its risk).

Checkouts are read/run only: every write goes back through the SCM adapter's idempotent commit, and a clone
carries no credential and cannot push (`disarm`)."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from include.scm import FileChange, ScmAdapter
from include.scm.git import BareRepo, run_git
from include.scm.local import KEY_TRAILER

SKIP_DIRS = frozenset(
    {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".tox", ".venv", "venv", "node_modules"}
)
"""Caches and environments that tools create while running; never part of a change."""

NO_PUSH_URL = "no-push://only-the-platform-pushes"
"""origin's push URL in a working copy: git knows no `no-push` transport, so every push fails at once."""
_CREDENTIAL_KEY = re.compile(r"^(?:http\..*extraheader|credential\..*|url\..*insteadof)$", re.IGNORECASE)
_DIFF_HEADER = re.compile(r"^diff --git a/(?P<old>.+) b/(?P<new>.+)$")


@contextmanager
def checked_out(scm: ScmAdapter, repo: str, branch: str) -> Iterator[Path]:
    """A fresh clone of `branch` in a temporary directory that is removed when the step is done, disarmed
    before any repository code sees it."""
    with tempfile.TemporaryDirectory(prefix="tp-checkout-") as tmp:
        workdir = scm.checkout(repo, branch, Path(tmp) / repo)
        disarm(workdir)
        yield workdir


def disarm(workdir: Path) -> None:
    """Leave no credential and no push right in the clone: drop auth headers, credential helpers and URL
    rewrites from its config, userinfo from origin's URL, and point origin's push URL at a transport that does
    not exist. Fetched refs (refs/remotes/origin/*) stay for `keyed_commit`; only the platform pushes, after
    the step, through its SCM adapter."""
    keys = run_git("config", "--local", "--name-only", "--list", cwd=workdir).stdout.splitlines()
    for key in sorted({key for key in keys if _CREDENTIAL_KEY.match(key)}):
        run_git("config", "--local", "--unset-all", key, cwd=workdir, ok=(0, 5))
    url = run_git("config", "--local", "--get", "remote.origin.url", cwd=workdir, ok=(0, 1)).stdout.strip()
    if url and url != (clean := _without_userinfo(url)):
        run_git("config", "--local", "remote.origin.url", clean, cwd=workdir)
    run_git("config", "--local", "remote.origin.pushurl", NO_PUSH_URL, cwd=workdir)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def keyed_commit(workdir: Path, key: str, default_branch: str) -> tuple[str, str] | None:
    """The commit of the checked-out branch (not on the default branch) whose `Ticketpilot-Key` trailer is
    `key`, with its message; None when there is none. A resumed step uses it to find the commit an earlier try
    made, instead of asking a model again for a change that is already on the branch."""
    default = f"refs/remotes/origin/{default_branch}"
    known = run_git("rev-parse", "--verify", "--quiet", default, cwd=workdir, ok=(0, 1)).returncode == 0
    sha = BareRepo(workdir).find_trailer("HEAD", KEY_TRAILER, key, exclude=default if known else None)
    if sha is None:
        return None
    return sha, run_git("log", "-1", "--format=%B", sha, cwd=workdir).stdout


def repo_files(root: Path) -> list[str]:
    """Repository-relative POSIX paths of the regular files under `root`, sorted, without tool caches."""
    found: list[str] = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part in SKIP_DIRS for part in relative.parts) or path.is_symlink() or not path.is_file():
            continue
        found.append(relative.as_posix())
    return sorted(found)


def snapshot(root: Path) -> dict[str, str]:
    """Content hash per file, taken before a tool runs so its edits can be collected afterwards."""
    return {path: hashlib.sha256((root / path).read_bytes()).hexdigest() for path in repo_files(root)}


def changes_since(root: Path, before: dict[str, str]) -> list[FileChange]:
    """The files a tool added, rewrote or deleted since `before`, as FileChanges ready to commit."""
    after = snapshot(root)
    changes = [
        FileChange(path=path, content=(root / path).read_text(encoding="utf-8"))
        for path, digest in after.items()
        if before.get(path) != digest
    ]
    changes += [FileChange(path=path, content=None) for path in before if path not in after]
    return sorted(changes, key=lambda change: change.path)


@dataclass(frozen=True)
class DiffStat:
    """What a unified diff touches: kept (added or modified) files, deleted files, changed lines."""

    files: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    lines: int = 0

    @property
    def all_files(self) -> list[str]:
        return sorted({*self.files, *self.deleted})


def diffstat(diff: str) -> DiffStat:
    """Parse `git diff` output. Lines are counted only inside hunks, so a removed line that itself starts
    with '--' is not mistaken for a file header."""
    kept: list[str] = []
    deleted: list[str] = []
    lines = 0
    in_hunk = False
    current: str | None = None
    for line in diff.splitlines():
        header = _DIFF_HEADER.match(line)
        if header:
            current, in_hunk = header["new"], False
            kept.append(current)
        elif current is not None and not in_hunk and line.startswith("deleted file mode"):
            kept.remove(current)
            deleted.append(current)
        elif line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line[:1] in ("+", "-"):
            lines += 1
    return DiffStat(files=sorted(kept), deleted=sorted(deleted), lines=lines)
