"""FileChanges planned against a branch tip in a mirror, before a forge's API is asked to write them: every
hosted forge takes a commit as a list of per-file edits, and each must leave out what would change nothing
(a retry, or a step whose result is already there), so the comparison with the tip lives here once."""

from __future__ import annotations

from dataclasses import dataclass

from include.scm.base import FileChange
from include.scm.git import BareRepo, check_path

REGULAR = "100644"


@dataclass(frozen=True)
class Edit:
    """One file change that changes something at the tip."""

    path: str
    content: str | None  # None deletes the file
    exists: bool  # whether the tip has the file (an edit, not an add)
    mode: str  # the file's mode at the tip; a new file is a regular one
    blob: str | None  # git's hash of `content`, for forges that upload blobs


def plan(mirror: BareRepo, tip: str, changes: list[FileChange]) -> list[Edit]:
    """The changes that change something: a delete only of what exists, content only where it differs."""
    paths = [check_path(c.path) for c in changes]
    listed = mirror.git("ls-tree", "-z", tip, "--", *paths) if paths else ""
    files = {}
    for entry in filter(None, listed.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind == "blob":
            files[path] = (mode, sha)
    edits = []
    for change in changes:
        mode, existing = files.get(change.path, (REGULAR, None))
        if change.content is None:
            if existing is not None:
                edits.append(Edit(change.path, None, True, mode, None))
            continue
        blob = mirror.git("hash-object", "--stdin", stdin=change.content).strip()
        if blob != existing:
            edits.append(Edit(change.path, change.content, existing is not None, mode, blob))
    return edits
