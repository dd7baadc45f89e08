"""Reads of history and content over git's smart HTTP, shared by the hosted adapters: a bare mirror per
repository (trailer lookups, trees and diffs need whole history, which REST answers only partially and paged)
and working copies for checkout. The credential reaches git only as an `http.extraHeader` in the environment
of each git process (GIT_CONFIG_COUNT/KEY/VALUE), never in a config file on disk or in argv."""

from __future__ import annotations

import base64
from pathlib import Path

from include.scm.base import ScmError
from include.scm.git import BareRepo, run_git


def header_env(authorization: str) -> dict[str, str]:
    """The environment that makes git send `Authorization: <authorization>` with every request."""
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: {authorization}"}


def basic_env(user: str, token: str) -> dict[str, str]:
    """HTTP Basic with the token as password, the form forges take access tokens in over git."""
    return header_env("Basic " + base64.b64encode(f"{user}:{token}".encode()).decode())


def fetch_mirror(path: Path, remote: str, branches: list[str], env: dict[str, str]) -> BareRepo:
    """The bare mirror at `path` with `branches` fetched fresh from `remote`."""
    if not (path / "HEAD").is_file():
        path.mkdir(parents=True, exist_ok=True)
        run_git("init", "--quiet", "--bare", ".", cwd=path)
    refspecs = [f"+refs/heads/{b}:refs/heads/{b}" for b in dict.fromkeys(branches)]
    run_git("fetch", "--quiet", "--no-tags", remote, *refspecs, cwd=path, env=env)
    return BareRepo(path)


def clone_or_refresh(remote: str, branch: str, dest: Path, env: dict[str, str]) -> Path:
    """Clone `branch` into `dest`, or bring an existing clone of `remote` to the branch tip (discarding local
    edits: the copy is for reading and running, writes go through the forge's API)."""
    dest = Path(dest)
    if not (dest / ".git").is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        run_git("clone", "--quiet", f"--branch={branch}", "--", remote, str(dest), cwd=dest.parent, env=env)
        return dest
    origin = run_git("config", "--get", "remote.origin.url", cwd=dest, ok=(0, 1)).stdout.strip()
    if origin != remote:
        raise ScmError(f"{dest} is a clone of {origin or 'nothing'!r}, not of {remote}; use another dest")
    run_git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}", cwd=dest, env=env)
    run_git("checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{branch}", cwd=dest)
    run_git("clean", "--quiet", "-ffd", cwd=dest)
    return dest


def branch_diff(mirror: BareRepo, target: str, source: str) -> str:
    """`source`'s changes against its merge base with `target`, as a PR shows them."""
    return mirror.git("diff", f"refs/heads/{target}...refs/heads/{source}", "--")
