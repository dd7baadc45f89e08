"""Real git behind the GitHub emulator: one bare repository per `owner/name`, driven with the git CLI through
the local forge's plumbing helpers, so the blobs, trees, commits, refs and merges the client sees are actual
git objects with actual shas, and the git smart HTTP endpoint serves the very same repository."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from include.scm.git import BareRepo, run_git
from tests.emulators.github.errors import invalid, unsupported

ZERO = "0" * 40
IDENTITY = "ticketpilot-bot <ticketpilot-bot@users.noreply.github.com>"
BLOB_MODES = ("100644", "100755", "120000")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


class EmulatedRepo:
    def __init__(self, root: Path, owner: str, name: str, repo_id: int) -> None:
        self.id = repo_id
        self.owner = owner
        self.name = name
        path = root / owner / f"{name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        run_git("init", "--bare", "--quiet", "--initial-branch=main", str(path), cwd=path.parent)
        self.git = BareRepo(path, identity=IDENTITY)
        self.default_branch = "main"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    # --- refs and objects ---------------------------------------------------------------------------

    def tip(self, branch: str) -> str | None:
        return self.git.rev(f"refs/heads/{branch}")

    def resolve(self, ref: str) -> str | None:
        """A commit sha from a sha or a branch name, as GitHub's `{ref}` path parameters accept."""
        if re.fullmatch(r"[0-9a-f]{40}", ref):
            return ref if self.object_type(ref) == "commit" else None
        return self.tip(ref.removeprefix("heads/").removeprefix("refs/heads/"))

    def object_type(self, sha: str) -> str | None:
        proc = run_git("cat-file", "-t", sha, cwd=self.git.path, ok=(0, 1, 128))
        return proc.stdout.strip() if proc.returncode == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        args = ("merge-base", "--is-ancestor", ancestor, descendant)
        return run_git(*args, cwd=self.git.path, ok=(0, 1)).returncode == 0

    def swap_ref(self, ref: str, new: str, old: str | None) -> bool:
        return self.git.swap_ref(ref, new, old)

    def valid_ref_name(self, ref: str) -> bool:
        return run_git("check-ref-format", ref, cwd=self.git.path, ok=(0, 1)).returncode == 0

    def write_blob(self, content: str) -> str:
        return self.git.git("hash-object", "-w", "--stdin", stdin=content).strip()

    def write_tree(self, base_tree: str | None, entries: list[dict[str, object]]) -> str:
        """GitHub's create-tree: `base_tree` with blob entries set (by sha or content) or, with sha None, deleted."""
        with tempfile.TemporaryDirectory(prefix="tp-gh-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base_tree is not None:
                if self.object_type(base_tree) != "tree":
                    raise invalid("Tree", f"base_tree {base_tree} is not a tree", field="base_tree", code="invalid")
                self.git.git("read-tree", base_tree, env=env)
            present = set(filter(None, self.git.git("ls-files", "-z", env=env).split("\0")))
            records = [self._record(entry, present) for entry in entries]
            if records:
                self.git.git("update-index", "-z", "--index-info", stdin="\0".join(records) + "\0", env=env)
            return self.git.git("write-tree", env=env).strip()

    def _record(self, entry: dict[str, object], present: set[str]) -> str:
        path, mode, kind = str(entry.get("path", "")), str(entry.get("mode", "")), entry.get("type", "blob")
        if kind != "blob":
            raise unsupported(f"tree entries of type {kind!r} (only blobs)")
        if mode not in BLOB_MODES:
            raise invalid("Tree", f"tree.mode {mode!r} is not a blob mode", field="mode", code="invalid")
        if not path or path.startswith("/") or ".." in path.split("/"):
            raise invalid("Tree", f"tree.path {path!r} is invalid", field="path", code="invalid")
        if "content" in entry:
            return f"{mode} {self.write_blob(str(entry['content']))}\t{path}"
        sha = entry.get("sha")
        if sha is None:
            if path not in present:
                raise invalid("Tree", f"tree.path {path!r} is not in base_tree, so it cannot be deleted",
                              field="path", code="invalid")
            return f"0 {ZERO}\t{path}"
        if self.object_type(str(sha)) != "blob":
            raise invalid("Tree", f"tree.sha {sha} is not a valid blob", field="sha", code="invalid")
        return f"{mode} {sha}\t{path}"

    def tree_listing(self, tree: str) -> list[tuple[str, str, str, str, str]]:
        """(mode, type, sha, size, path) of each top-level entry of `tree`."""
        out = self.git.git("ls-tree", "-l", "-z", tree)
        rows = []
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind, sha, size = meta.split()
            rows.append((mode, kind, sha, size, path))
        return rows

    def write_commit(self, message: str, tree: str, parents: list[str]) -> str:
        if self.object_type(tree) != "tree":
            raise invalid("Commit", f"tree {tree} is not a tree", field="tree", code="invalid")
        for parent in parents:
            if self.object_type(parent) != "commit":
                raise invalid("Commit", f"parent {parent} is not a commit", field="parents", code="invalid")
        return self.git.commit(tree, parents, message)

    def commit_info(self, sha: str) -> dict[str, str]:
        fmt = "%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        fields = self.git.git("show", "-s", f"--format={fmt}", sha).split("\0")
        keys = ("tree", "parents", "an", "ae", "ad", "cn", "ce", "cd", "message")
        return dict(zip(keys, fields, strict=True))

    # --- pull request views -------------------------------------------------------------------------

    def mergeable(self, base: str, head: str) -> bool:
        return not self.git.merge_tree(base, head)[1]

    def stats(self, base: str, head: str) -> dict[str, int]:
        """commits, additions, deletions and changed_files of a PR from `head` into `base`."""
        numstat = self.git.git("diff", "--numstat", f"{base}...{head}", "--").splitlines()
        counts = [line.split("\t")[:2] for line in numstat]
        return {
            "commits": int(self.git.git("rev-list", "--count", f"{base}..{head}").strip()),
            "additions": sum(int(a) for a, _ in counts if a.isdigit()),
            "deletions": sum(int(d) for _, d in counts if d.isdigit()),
            "changed_files": len(counts),
        }

    def changed_paths(self, base: str, head: str) -> set[str]:
        return set(self.git.git("diff", "--name-only", f"{base}...{head}", "--").splitlines())

    def new_side_lines(self, base: str, head: str, path: str) -> dict[int, tuple[int, str]]:
        """Line on the new side of `path`'s diff → (position below the first hunk header, the hunk up to that
        line): the lines GitHub takes review comments on, with the `position` and `diff_hunk` it reports."""
        lines = self.git.git("diff", "--no-color", "-U3", f"{base}...{head}", "--", path).splitlines()
        found: dict[int, tuple[int, str]] = {}
        position, hunk_start, new_line = -1, 0, 0
        for index, text in enumerate(lines):
            header = _HUNK.match(text)
            if header:
                position, hunk_start, new_line = position + 1, index, int(header.group(1))
                continue
            if position < 0:
                continue
            position += 1
            if text.startswith(("-", "\\")):
                continue
            found[new_line] = (position, "\n".join(lines[hunk_start:index + 1]))
            new_line += 1
        return found

    def merge(self, base_branch: str, head: str, message: str, *, squash: bool) -> str | None:
        """Merge `head` into `base_branch` (merge-tree + commit-tree); None on conflicts."""
        target = self.tip(base_branch)
        if target is None:
            return None
        tree, conflicts = self.git.merge_tree(target, head)
        if conflicts:
            return None
        merged = self.git.commit(tree, [target] if squash else [target, head], message)
        return merged if self.git.swap_ref(f"refs/heads/{base_branch}", merged, target) else None
