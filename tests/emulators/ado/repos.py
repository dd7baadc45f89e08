"""Real git behind the emulator: bare repositories driven with the git CLI (through the local forge's
plumbing helpers), so refs, pushes and merges the client sees are actual commits with actual shas."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

from include.scm.base import FileChange, ScmError
from include.scm.git import BareRepo, run_git
from tests.emulators.ado.errors import AdoHttpError

ZERO = "0" * 40
IDENTITY = "Ticketpilot Bot <bot@ticketpilot.local>"


class EmulatedRepo:
    def __init__(self, root: Path, name: str, project_id: str = "") -> None:
        self.id = str(uuid.uuid4())
        self.name = name
        self.project_id = project_id  # the id of the project that holds it (EmulatorState.projects)
        self.git = BareRepo(root / f"{self.id}.git", identity=IDENTITY)
        run_git("init", "--bare", "--quiet", "--initial-branch=main", str(self.git.path), cwd=root)
        self.default_branch = "refs/heads/main"
        self.default_branch_set = False  # ADO shows no defaultBranch for an empty repository until one is set

    def set_default_branch(self, ref: str) -> None:
        """PATCH defaultBranch: also git's HEAD, so a clone checks that branch out, as ADO's clones do."""
        self.default_branch = ref
        self.default_branch_set = True
        self.git.git("symbolic-ref", "HEAD", ref)

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str]]:
        out = self.git.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/")
        pairs = [tuple(line.split(" ", 1)) for line in out.splitlines() if line]
        return sorted((name, sha) for name, sha in pairs if name.startswith(prefix))

    def tip(self, ref: str) -> str | None:
        return self.git.rev(ref)

    def is_commit(self, sha: str) -> bool:
        return run_git("cat-file", "-e", f"{sha}^{{commit}}", cwd=self.git.path, ok=(0, 1, 128)).returncode == 0

    def update_ref(self, ref: str, old: str, new: str) -> str:
        """ADO's per-ref update semantics on top of git's compare-and-swap; returns updateStatus."""
        if not ref.startswith("refs/heads/") or run_git("check-ref-format", ref, cwd=self.git.path,
                                                         ok=(0, 1)).returncode:
            return "invalidRefName"
        if new != ZERO and not self.is_commit(new):
            return "unresolvableToCommit"
        if new == ZERO:
            current = self.tip(ref)
            if current is None:
                return "succeededNonExistentRef"
            if current != old:
                return "staleOldObjectId"
            run_git("update-ref", "-d", ref, old, cwd=self.git.path)
            return "succeeded"
        return "succeeded" if self.git.swap_ref(ref, new, None if old == ZERO else old) else "staleOldObjectId"

    def exists(self, commit: str | None, path: str) -> bool:
        if commit is None:
            return False
        spec = f"{commit}:{path}"
        return run_git("cat-file", "-e", spec, cwd=self.git.path, ok=(0, 1, 128)).returncode == 0

    def commit_changes(self, parent: str | None, comment: str, changes: list[dict[str, Any]]) -> str:
        """One commit from ADO `changes` (add/edit/delete, rawtext/base64encoded), validated like ADO does."""
        edits: list[FileChange] = []
        for change in changes:
            kind = change.get("changeType")
            path = str(change.get("item", {}).get("path", "")).lstrip("/")
            present = self.exists(parent, path)
            if kind == "add" and present:
                raise AdoHttpError(409, f"TF402455: The path '/{path}' already exists.", "GitItemAlreadyExists")
            if kind in ("edit", "delete") and not present:
                raise AdoHttpError(404, f"TF401174: The item '/{path}' could not be found.", "GitItemNotFound")
            if kind not in ("add", "edit", "delete"):
                raise AdoHttpError(400, f"changeType {kind!r} is not supported by the emulator", "ArgumentException")
            edits.append(FileChange(path=path, content=None if kind == "delete" else _content(change)))
        try:
            tree = self.git.write_tree(parent, edits)
        except ScmError as exc:
            raise AdoHttpError(400, str(exc), "InvalidArgumentValueException") from exc
        return self.git.commit(tree, [parent] if parent else [], comment)

    def commit_info(self, sha: str) -> dict[str, str] | None:
        if not self.is_commit(sha):
            return None
        fmt = "%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        fields = self.git.git("show", "-s", f"--format={fmt}", sha).split("\0")
        keys = ("tree", "parents", "an", "ae", "ad", "cn", "ce", "cd", "message")
        return dict(zip(keys, fields, strict=True))

    def read_blob(self, commit: str, path: str) -> tuple[str, str] | None:
        """(blob id, text) of `path` at `commit`, None when it is not a file there."""
        spec = f"{commit}:{path.lstrip('/')}"
        proc = run_git("rev-parse", "--verify", "--quiet", spec, cwd=self.git.path, ok=(0, 1, 128))
        if proc.returncode or self.git.git("cat-file", "-t", proc.stdout.strip()).strip() != "blob":
            return None
        blob = proc.stdout.strip()
        return blob, self.git.git("cat-file", "blob", blob)

    def test_merge(self, target: str, source: str) -> str | None:
        """ADO's preview merge of a PR: a real, unreferenced merge commit; None on conflicts."""
        tree, conflicts = self.git.merge_tree(target, source)
        return None if conflicts else self.git.commit(tree, [target, source], "Test merge")

    def squash_merge(self, target_ref: str, source: str, message: str, *, squash: bool) -> str | None:
        """Merge `source` into `target_ref` with merge-tree + commit-tree; None on conflicts or a moved target."""
        target = self.tip(target_ref)
        if target is None:
            return None
        tree, conflicts = self.git.merge_tree(target, source)
        if conflicts:
            return None
        merged = self.git.commit(tree, [target] if squash else [target, source], message)
        return merged if self.git.swap_ref(target_ref, merged, target) else None


def _content(change: dict[str, Any]) -> str:
    new = change.get("newContent") or {}
    content = str(new.get("content", ""))
    if str(new.get("contentType", "rawtext")).lower() == "base64encoded":
        return base64.b64decode(content).decode()
    return content
