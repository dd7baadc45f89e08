"""Reads of history and content through git, not REST: a bare mirror per project fetched over smart HTTP,
because the REST commit list and diff endpoints paginate and truncate while trailer lookups and diffs need
the whole history. The token reaches git only as an `http.extraHeader` in the environment of each git process
(GIT_CONFIG_COUNT/KEY/VALUE), never in a config file on disk or in argv."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from include.scm.base import ScmError
from include.scm.git import BareRepo, run_git
from include.scm.gitlab.models import Project

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def auth_env(token: str) -> dict[str, str]:
    """HTTP Basic as GitLab takes a personal/project access token over git: any user name, token as password."""
    basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


class Mirrors:
    """The tenant's bare mirrors under `cache_dir`, one per project id (stable across renames)."""

    def __init__(self, cache_dir: Path, token: str) -> None:
        self.cache_dir = Path(cache_dir)
        self._env = auth_env(token)

    def fetch(self, project: Project, *branches: str) -> BareRepo:
        """The mirror of `project` with `branches` fetched fresh."""
        path = self.cache_dir / f"{project.id}.git"
        if not (path / "HEAD").is_file():
            path.mkdir(parents=True, exist_ok=True)
            run_git("init", "--quiet", "--bare", ".", cwd=path)
        refspecs = [f"+refs/heads/{b}:refs/heads/{b}" for b in dict.fromkeys(branches)]
        run_git("fetch", "--quiet", "--no-tags", project.http_url_to_repo, *refspecs, cwd=path, env=self._env)
        return BareRepo(path)

    def checkout(self, project: Project, branch: str, dest: Path) -> Path:
        """Clone into `dest`, or bring an existing clone of this project to the branch tip (discarding local
        edits: the copy is for reading and running, writes go through the commits API)."""
        remote, dest = project.http_url_to_repo, Path(dest)
        if not (dest / ".git").is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
            run_git("clone", "--quiet", f"--branch={branch}", "--", remote, str(dest), cwd=dest.parent, env=self._env)
            return dest
        origin = run_git("config", "--get", "remote.origin.url", cwd=dest, ok=(0, 1)).stdout.strip()
        if origin != remote:
            raise ScmError(f"{dest} is a clone of {origin or 'nothing'!r}, not of {remote}; use another dest")
        run_git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}", cwd=dest,
                env=self._env)
        run_git("checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{branch}", cwd=dest)
        run_git("clean", "--quiet", "-ffd", cwd=dest)
        return dest


def shown_lines(mirror: BareRepo, base: str, head: str, path: str) -> dict[int, int | None]:
    """Every line of `path` that GitLab's merge request diff (base...head, three lines of context) shows, as
    new line number → old line number, None for an added line. A diff note must name exactly these: `new_line`
    alone on an added line, both numbers on an unchanged one."""
    out = mirror.git("diff", "--no-color", "--no-ext-diff", "-U3", base, head, "--", path)
    shown: dict[int, int | None] = {}
    old = new = 0
    in_hunk = False
    for line in out.splitlines():
        if (hunk := _HUNK.match(line)) is not None:
            old, new, in_hunk = int(hunk[1]), int(hunk[2]), True
        elif not in_hunk:
            continue  # the diff --git / index / ---/+++ header
        elif line.startswith("+"):
            shown[new] = None
            new += 1
        elif line.startswith("-"):
            old += 1
        elif line.startswith(" "):
            shown[new] = old
            old, new = old + 1, new + 1
    return shown
