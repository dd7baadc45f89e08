"""One way to run what a repository or a model brings (tests, linters, builds, the fix loop's reruns): in its own
venv or with the platform's scanners, under the strongest isolation this machine offers (include/sandbox/
isolation.py), with an environment built from an allowlist and never copied from the worker, rlimits, and a
wall timeout that kills the whole process group.

The working copy, the venv and the base Python appear inside at their own paths, so paths in tool output
(pytest tracebacks, ruff's JSON) mean the same inside and out."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from include.sandbox import isolation as iso
from include.sandbox.isolation import Isolation, Limits, Mounts
from include.sandbox.venv import repo_venv, venv_python

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300
TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` reports, so logs read the same
OUTPUT_TAIL_CHARS = 4000
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
COLUMNS = "160"  # test runners wrap and cut their summaries to this: the same on every machine


@dataclass(frozen=True)
class ToolRun:
    argv: list[str]
    exit_code: int
    duration_s: float
    stdout: str
    stderr: str
    timed_out: bool = False
    isolation: str = Isolation.NONE.value
    """Which isolation the command ran under, for the step's audit record."""

    @property
    def output_tail(self) -> str:
        """The end of the combined output: where test runners print their summary."""
        return (self.stdout + self.stderr)[-OUTPUT_TAIL_CHARS:]


@dataclass(frozen=True)
class Sandbox:
    """Where and how commands for one working copy run. `venv` is the repository's own environment; None means
    the platform's interpreter, for scanners (ruff, bandit, detect-secrets) that only read the files."""

    workdir: Path
    venv: Path | None
    limits: Limits = field(default_factory=Limits)
    isolation: Isolation = field(default_factory=iso.available)

    @classmethod
    def for_workdir(cls, workdir: Path, limits: Limits | None = None) -> Sandbox:
        """The sandbox with the repository's own venv, built (or taken from the cache) from its declarations."""
        workdir = workdir.resolve()
        sandbox = cls(workdir, repo_venv(workdir), limits or Limits())
        iso.warn_degraded(sandbox.isolation)
        return sandbox

    @classmethod
    def for_tools(cls, workdir: Path, limits: Limits | None = None) -> Sandbox:
        """The sandbox that runs the platform's own scanners over the working copy."""
        sandbox = cls(workdir.resolve(), None, limits or Limits())
        iso.warn_degraded(sandbox.isolation)
        return sandbox

    @property
    def python(self) -> str:
        """The interpreter commands should name: the repository venv's, or the platform's for scanners."""
        return str(venv_python(self.venv)) if self.venv is not None else sys.executable

    def run(self, argv: list[str], timeout_s: float = DEFAULT_TIMEOUT_S) -> ToolRun:
        """Run `argv` in the working copy; a timeout kills its process group and reports exit code 124."""
        with tempfile.TemporaryDirectory(prefix="tp-sandbox-home-") as scratch_home:
            prefix, home = self._prefix(scratch_home)
            prlimit = iso.which("prlimit")
            limited = [prlimit, *self.limits.prlimit_args(), "--"] if prlimit else []
            started = time.monotonic()
            proc = subprocess.Popen(
                [*limited, *prefix, *argv], cwd=self.workdir, env=self.environment(home),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                start_new_session=True, preexec_fn=None if prlimit else self.limits.preexec(),
            )
            try:
                stdout, stderr = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, stderr = proc.communicate()
                stderr += f"\n[ticketpilot] killed after {timeout_s:g}s timeout"
                return ToolRun(argv, TIMEOUT_EXIT_CODE, time.monotonic() - started, stdout, stderr, timed_out=True,
                               isolation=self.isolation.value)
        return ToolRun(argv, proc.returncode, time.monotonic() - started, stdout, stderr,
                       isolation=self.isolation.value)

    def environment(self, home: str) -> dict[str, str]:
        """Built from nothing: no variable of the worker's environment reaches the command."""
        env = {
            "PATH": ":".join([*([str(self.venv / "bin")] if self.venv else []), *SYSTEM_PATH]),
            "HOME": home,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "COLUMNS": COLUMNS,
            "GIT_TERMINAL_PROMPT": "0",
            # the copy belongs to the worker's uid, the command may run as another: let git inside read it
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*",
        }
        if self.venv is not None:
            env["VIRTUAL_ENV"] = str(self.venv)
            env["PYTHONPATH"] = os.pathsep.join(str(path) for path in self.import_paths())
        return env

    def import_paths(self) -> list[Path]:
        """The working copy, and its `src/` for src layouts: the project is tested from here, never installed."""
        src = self.workdir / "src"
        return [self.workdir, src] if src.is_dir() else [self.workdir]

    def _prefix(self, scratch_home: str) -> tuple[list[str], str]:
        """The isolating argv prefix and the HOME the command gets."""
        if self.isolation is Isolation.BUBBLEWRAP:
            if iso.drops_root():
                _open_to_sandbox_user(self.workdir)
            return iso.bwrap_argv(Mounts(workdir=self.workdir, read_only=self._read_only())), iso.SANDBOX_HOME
        if self.isolation is Isolation.UNSHARE:
            return iso.unshare_argv(), scratch_home
        return [], scratch_home

    def _read_only(self) -> tuple[Path, ...]:
        """The base Python the venv points to, and the venv (the platform's own for scanners)."""
        base = Path(sys.base_prefix).resolve()
        env = self.venv if self.venv is not None else Path(sys.prefix)
        return (base,) if env.resolve() == base else (base, env)


def _open_to_sandbox_user(root: Path) -> None:
    """Let the sandbox's unprivileged uid write the working copy (it lives in a private 0700 directory, so
    nobody else reaches it); executable bits stay as they are, so git sees no mode change."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        wanted = mode | stat.S_IROTH | stat.S_IWOTH
        if stat.S_ISDIR(mode) or mode & (stat.S_IXUSR | stat.S_IXGRP):
            wanted |= stat.S_IXOTH
        if wanted != mode:
            path.chmod(stat.S_IMODE(wanted))
