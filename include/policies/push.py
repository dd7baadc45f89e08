"""The push decision (include/policies/rego/push.rego), taken by the Dev step on the change it is about to
commit: its files and changed lines against the platform's limits and the tenant's (`max_lines`, `max_files`,
`deny_paths`). The model proposes; this decides, before anything reaches the forge."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from include.policies.risk import normalise_path
from include.policies.tenant_bundles import engine_for
from include.scm.base import FileChange
from include.scm.git import run_git


def changed_lines(workdir: Path, changes: Sequence[FileChange]) -> int:
    """Added plus removed lines of the changes against the checked-out HEAD (a new file counts all its lines)."""
    total = 0
    for change in changes:
        shown = run_git("show", f"HEAD:{change.path}", cwd=workdir, ok=(0, 128))
        before = shown.stdout.splitlines() if shown.returncode == 0 else []
        after = (change.content or "").splitlines()
        total += sum(1 for line in difflib.unified_diff(before, after, lineterm="", n=0)
                     if line[:1] in "+-" and not line.startswith(("+++", "---")))
    return total


def push_refusal(tenant: str, repo: str, workdir: Path, changes: Sequence[FileChange]) -> str | None:
    """Why the change may not be pushed, or None."""
    decided = engine_for(tenant).decide("push", {
        "files": sorted({normalise_path(c.path) for c in changes}), "lines_changed": changed_lines(workdir, changes),
        "repo": repo})
    return None if decided["allow"] else "; ".join(decided["reasons"])
