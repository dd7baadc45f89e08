"""The `git` CLI as the local forge uses it: plumbing against bare repositories, so no working tree is
ever shared between writers. Every call gets an explicit environment that ignores the host's git config,
inherits no `GIT_*` variables and never prompts, so results do not depend on who runs the process."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from include.scm.base import FileChange, ScmError

BOT_IDENTITY = "Ticketpilot <bot@ticketpilot.local>"
_NO_OBJECT = "0" * 40  # update-ref's "must not exist yet"; --index-info's "remove this path"


def _env(identity: str, extra: dict[str, str] | None) -> dict[str, str]:
    name, _, email = identity.partition("<")
    if not name.strip() or not email.endswith(">"):
        raise ScmError(f"git identity {identity!r} must look like 'Name <email>'")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LITERAL_PATHSPECS": "1",  # file paths are names, never globs
        "GIT_AUTHOR_NAME": name.strip(),
        "GIT_AUTHOR_EMAIL": email[:-1].strip(),
        "GIT_COMMITTER_NAME": name.strip(),
        "GIT_COMMITTER_EMAIL": email[:-1].strip(),
    }
    return env | (extra or {})


def run_git(
    *args: str,
    cwd: Path,
    identity: str = BOT_IDENTITY,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    ok: Sequence[int] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run git in `cwd`; an exit code outside `ok` becomes a ScmError carrying git's own message."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        env=_env(identity, env),
        check=False,
    )
    if proc.returncode not in ok:
        command = " ".join(args[:3])
        raise ScmError(f"git {command} failed in {cwd} (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc


def check_path(path: str) -> str:
    """Reject paths that would escape the repository or touch git's own files."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise ScmError(f"file path {path!r} must be relative, inside the repository and not under .git")
    return path


def with_trailer(message: str, key: str, value: str) -> str:
    if "\n" in value or not value.strip():
        raise ScmError(f"{key} value {value!r} must be a non-empty single line")
    return f"{message.rstrip()}\n\n{key}: {value}\n"


class BareRepo:
    """One bare repository, addressed by path; methods are the few plumbing steps the forge composes."""

    def __init__(self, path: Path, identity: str = BOT_IDENTITY) -> None:
        self.path = path
        self.identity = identity

    def git(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        return run_git(*args, cwd=self.path, identity=self.identity, stdin=stdin, env=env).stdout

    def rev(self, ref: str) -> str | None:
        """The commit `ref` names, None when it does not exist."""
        proc = run_git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=self.path, ok=(0, 1))
        return proc.stdout.strip() or None

    def swap_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Compare-and-swap `ref` from `old` (None: must not exist) to `new`; False when someone moved it."""
        proc = run_git("update-ref", ref, new, old or _NO_OBJECT, cwd=self.path, ok=(0, 128))
        return proc.returncode == 0

    def write_tree(self, base: str | None, changes: list[FileChange]) -> str:
        """The tree of `base` with `changes` applied, built in a private index so writers never collide."""
        with tempfile.TemporaryDirectory(prefix="tp-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base is not None:
                self.git("read-tree", base, env=env)
            executable = self._executable(base, [check_path(c.path) for c in changes])
            records = []
            for change in changes:
                path = change.path
                if change.content is None:
                    records.append(f"0 {_NO_OBJECT}\t{path}")
                else:
                    blob = self.git("hash-object", "-w", "--stdin", stdin=change.content).strip()
                    mode = "100755" if path in executable else "100644"
                    records.append(f"{mode} {blob}\t{path}")
            if records:
                self.git("update-index", "-z", "--index-info", stdin="\0".join(records) + "\0", env=env)
            return self.git("write-tree", env=env).strip()

    def _executable(self, base: str | None, paths: list[str]) -> set[str]:
        """Paths that are executable in `base`, so rewriting a script keeps its mode."""
        if base is None or not paths:
            return set()
        out = self.git("ls-tree", "-z", base, "--", *paths)
        entries = (e.split("\t", 1) for e in out.split("\0") if e)
        return {path for meta, path in entries if meta.startswith("100755 ")}

    def commit(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, "-F", "-", stdin=message).strip()

    def find_trailer(self, tip: str, key: str, value: str, *, exclude: str | None = None) -> str | None:
        """The newest commit reachable from `tip` (and not from `exclude`) with trailer `key: value`."""
        args = ["log", "-z", "--fixed-strings", f"--grep={key}: {value}"]
        args += [f"--format=%H%x01%(trailers:key={key},valueonly,unfold)", tip]
        if exclude is not None:
            args += ["--not", exclude]
        for entry in self.git(*args, "--").split("\0"):
            sha, _, values = entry.partition("\x01")
            if value in (v.strip() for v in values.splitlines()):
                return sha.strip()
        return None

    def merge_tree(self, ours: str, theirs: str) -> tuple[str, list[str]]:
        """Three-way merge of two commits without a worktree: (tree, conflicting paths)."""
        proc = run_git(
            "merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", ours, theirs,
            cwd=self.path, ok=(0, 1),
        )
        tree, *conflicts = proc.stdout.split("\0")
        return tree.strip(), [c for c in conflicts if c]
