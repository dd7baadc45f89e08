"""Real git behind the GitLab emulator: one bare repository per project, driven through the local forge's
plumbing helpers, so branches, commits, squashes and merges the client sees are actual commits with shas."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from include.scm.base import FileChange, ScmError
from include.scm.git import BareRepo, run_git
from tests.emulators.gitlab.errors import GitLabHttpError, unsupported

IDENTITY = "Ticketpilot Bot <bot@ticketpilot.local>"
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_COMMIT_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s%x00%B"


class GitLabRepo:
    def __init__(self, path: Path) -> None:
        run_git("init", "--bare", "--quiet", "--initial-branch=main", str(path), cwd=path.parent)
        self.git = BareRepo(path, identity=IDENTITY)

    @property
    def path(self) -> Path:
        return self.git.path

    def tip(self, branch: str) -> str | None:
        return self.git.rev(f"refs/heads/{branch}")

    def branches(self) -> list[tuple[str, str]]:
        out = self.git.git("for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/")
        return sorted(tuple(line.split(" ", 1)) for line in out.splitlines() if line)  # type: ignore[misc]

    def is_commit(self, sha: str) -> bool:
        proc = run_git("cat-file", "-e", f"{sha}^{{commit}}", cwd=self.path, ok=(0, 1, 128))
        return proc.returncode == 0

    def valid_branch_name(self, name: str) -> bool:
        return run_git("check-ref-format", "--branch", name, cwd=self.path, ok=(0, 1, 128)).returncode == 0

    def set_branch(self, name: str, sha: str, old: str | None) -> bool:
        return self.git.swap_ref(f"refs/heads/{name}", sha, old)

    def delete_branch(self, name: str) -> None:
        run_git("update-ref", "-d", f"refs/heads/{name}", cwd=self.path)

    def has_file(self, commit: str | None, path: str) -> bool:
        if commit is None:
            return False
        proc = run_git("cat-file", "-e", f"{commit}:{path}", cwd=self.path, ok=(0, 1, 128))
        return proc.returncode == 0

    def commit_actions(self, parent: str | None, message: str, actions: list[dict[str, Any]]) -> str:
        """One commit of commits-API `actions` on `parent`, validated the way GitLab validates them."""
        changes = []
        for action in actions:
            kind, path = action.get("action"), str(action.get("file_path") or "")
            if kind not in ("create", "update", "delete"):
                raise unsupported(f"commit action {kind!r} (only create, update and delete)")
            present = self.has_file(parent, path)
            if kind == "create" and present:
                raise GitLabHttpError(400, "A file with this name already exists")
            if kind in ("update", "delete") and not present:
                raise GitLabHttpError(400, "A file with this name doesn't exist")
            changes.append(FileChange(path=path, content=None if kind == "delete" else _content(action)))
        try:
            tree = self.git.write_tree(parent, changes)
        except ScmError as exc:
            raise GitLabHttpError(400, str(exc)) from exc
        return self.git.commit(tree, [parent] if parent else [], message)

    def commit_info(self, sha: str) -> dict[str, Any]:
        fields = self.git.git("show", "-s", f"--format={_COMMIT_FORMAT}", sha).split("\0")
        keys = ("id", "parents", "an", "ae", "ad", "cn", "ce", "cd", "title", "message")
        info: dict[str, Any] = dict(zip(keys, fields, strict=True))
        trailers = self.git.git("show", "-s", "--format=%(trailers:only,unfold)", sha)
        info["trailers"] = [tuple(part.strip() for part in line.split(":", 1))
                            for line in trailers.splitlines() if ":" in line]
        return info

    def line_stats(self, sha: str) -> tuple[int, int]:
        """(lines added, lines deleted) by commit `sha` against its first parent."""
        rows = [row.split("\t") for row in self.git.git("diff", "--numstat", f"{sha}^", sha).splitlines()]
        return (sum(int(r[0]) for r in rows if r[0].isdigit()), sum(int(r[1]) for r in rows if r[1].isdigit()))

    def merge_base(self, a: str, b: str) -> str:
        return self.git.git("merge-base", a, b).strip()

    def conflicts(self, target: str, source: str) -> bool:
        return bool(self.git.merge_tree(target, source)[1])

    def merge(self, target_branch: str, source: str, *, squash_message: str | None, message: str
              ) -> tuple[str, str | None] | None:
        """GitLab's 'merge commit' method: with `squash_message`, first one squash commit of the source on its
        merge base, then a merge commit of that into the target. (merge sha, squash sha); None on conflicts."""
        target = self.tip(target_branch)
        if target is None:
            return None
        squashed = None
        if squash_message is not None:
            tree = self.git.git("rev-parse", f"{source}^{{tree}}").strip()
            squashed = self.git.commit(tree, [self.merge_base(target, source)], squash_message)
        tree, conflicting = self.git.merge_tree(target, squashed or source)
        if conflicting:
            return None
        merged = self.git.commit(tree, [target, squashed or source], message)
        return (merged, squashed) if self.set_branch(target_branch, merged, target) else None

    def changed_paths(self, base: str, head: str) -> set[str]:
        return set(self.git.git("diff", "--name-only", "--no-renames", base, head).splitlines())

    def line_codes(self, base: str, head: str, path: str) -> set[tuple[int | None, int | None]]:
        """(old_line, new_line) of every line the diff of `path` shows, the way GitLab builds line codes:
        (None, n) for an added line, (o, None) for a removed one, (o, n) for context."""
        codes: set[tuple[int | None, int | None]] = set()
        old = new = 0
        for row in self.git.git("diff", "--no-color", "-U3", base, head, "--", path).splitlines():
            hunk = _HUNK.match(row)
            if hunk:
                old, new = int(hunk[1]), int(hunk[2])
            elif not old and not new:
                continue
            elif row[:1] == "+":
                codes.add((None, new))
                new += 1
            elif row[:1] == "-":
                codes.add((old, None))
                old += 1
            elif row[:1] == " ":
                codes.add((old, new))
                old, new = old + 1, new + 1
        return codes


def _content(action: dict[str, Any]) -> str:
    content = str(action.get("content") or "")
    encoding = action.get("encoding") or "text"
    if encoding == "base64":
        return base64.b64decode(content).decode()
    if encoding != "text":
        raise GitLabHttpError(400, error="encoding does not have a valid value")
    return content
