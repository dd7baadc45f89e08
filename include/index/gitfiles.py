"""The files of one commit, read from git's object store (never the working tree, which may hold edits).

A file is known by its blob hash from `git ls-tree`: an unchanged file has the same hash in the next commit,
which is what lets indexing reuse its chunks without reading it again."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from include.scm.git import run_git

# Vendored and generated trees: code the repository carries but does not own.
SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "dist", "build", "vendor", "_vendor",
                          "third_party", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                          "site-packages", "bower_components", "target", "obj"})
BINARY_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".ico", ".bmp", ".webp", ".pdf", ".zip", ".gz",
                             ".tgz", ".bz2", ".xz", ".7z", ".tar", ".jar", ".war", ".whl", ".so", ".dll", ".dylib",
                             ".exe", ".class", ".pyc", ".o", ".a", ".woff", ".woff2", ".ttf", ".otf", ".eot",
                             ".mp3", ".mp4", ".mov", ".wav", ".sqlite", ".db", ".bin", ".parquet", ".pkl"})
MAX_FILE_BYTES = 1024 * 1024  # beyond this a "source" file is data or generated: not indexed at all
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class TreeFile:
    path: str
    blob: str
    size: int


def resolve_commit(workdir: Path, commit: str) -> str:
    """The full hash of `commit` (a hash, branch or tag) in the repository at `workdir`."""
    return run_git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}", cwd=workdir).stdout.strip()


def tree_files(workdir: Path, commit: str) -> tuple[list[TreeFile], dict[str, int]]:
    """The regular files at `commit` worth indexing, and how many were left out for which reason."""
    out = run_git("ls-tree", "-r", "-l", "-z", "--full-tree", commit, cwd=workdir).stdout
    files: list[TreeFile] = []
    skipped: dict[str, int] = {}
    for entry in filter(None, out.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, kind, blob, size = meta.split()
        reason = _skip_reason(path, mode, kind, size)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
        else:
            files.append(TreeFile(path=path, blob=blob, size=int(size)))
    return files, skipped


def _skip_reason(path: str, mode: str, kind: str, size: str) -> str:
    pure = PurePosixPath(path)
    if kind != "blob" or mode == "120000":
        return "not-a-file"  # submodules, symlinks
    if any(part in SKIPPED_DIRS for part in pure.parts[:-1]):
        return "vendored"
    if pure.suffix.lower() in BINARY_SUFFIXES:
        return "binary"
    if int(size) > MAX_FILE_BYTES:
        return "too-big"
    return ""


def read_blobs(workdir: Path, blobs: list[str]) -> dict[str, str | None]:
    """blob -> its text; None for binary content (a NUL byte near the start)."""
    if not blobs:
        return {}
    proc = subprocess.run(["git", "cat-file", "--batch"], cwd=workdir, input="\n".join(blobs).encode() + b"\n",
                          capture_output=True, check=True)
    data = proc.stdout
    texts: dict[str, str | None] = {}
    at = 0
    for _ in blobs:
        header_end = data.index(b"\n", at)
        name, _kind, size = data[at:header_end].decode().split()
        start = header_end + 1
        content = data[start:start + int(size)]
        at = start + int(size) + 1  # the content is followed by a newline
        texts[name] = None if b"\0" in content[:_SNIFF_BYTES] else content.decode("utf-8", "replace")
    return texts
