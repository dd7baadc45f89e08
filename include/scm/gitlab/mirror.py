"""Reads of history and content through git, not REST (see include/scm/mirror.py): the tenant's mirrors, one
per project, and the lines of a merge request's diff that GitLab takes diff notes on."""

from __future__ import annotations

import re
from pathlib import Path

from include.scm.git import BareRepo
from include.scm.gitlab.models import Project
from include.scm.mirror import basic_env, clone_or_refresh, fetch_mirror

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


class Mirrors:
    """The tenant's bare mirrors under `cache_dir`, one per project id (stable across renames)."""

    def __init__(self, cache_dir: Path, token: str) -> None:
        self.cache_dir = Path(cache_dir)
        self._env = basic_env("oauth2", token)  # GitLab takes an access token as password, any user name

    def fetch(self, project: Project, *branches: str) -> BareRepo:
        """The mirror of `project` with `branches` fetched fresh."""
        return fetch_mirror(self.cache_dir / f"{project.id}.git", project.http_url_to_repo, list(branches),
                            self._env)

    def checkout(self, project: Project, branch: str, dest: Path) -> Path:
        """A working copy of `branch` at `dest` (see include/scm/mirror.clone_or_refresh)."""
        return clone_or_refresh(project.http_url_to_repo, branch, Path(dest), self._env)


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
