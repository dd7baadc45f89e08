"""The repository tools agents run (ruff, bandit, detect-secrets, pytest), always as `sys.executable -m ...`
subprocesses so the versions are the ones pinned with Ticketpilot, never whatever is first on PATH.

Each run gets a timeout that kills the whole process group (a test suite may start children) and an
environment without Ticketpilot's own settings: repository code (which a model may have written) must not see
the platform's database URL or credentials, the model providers' API keys, nor import Ticketpilot modules
through PYTHONPATH."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include.agents.errors import ToolError
from include.agents.workspace import repo_files
from model_serving.router.providers import PROVIDERS

TOOL_TIMEOUT_S = 300
OUTPUT_TAIL_CHARS = 4000
TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` reports, so logs read the same
_SCAN_BATCH = 200  # files per detect-secrets call, far below any argv limit


@dataclass(frozen=True)
class ToolRun:
    argv: list[str]
    exit_code: int
    duration_s: float
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def output_tail(self) -> str:
        """The end of the combined output: where test runners print their summary."""
        return (self.stdout + self.stderr)[-OUTPUT_TAIL_CHARS:]


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def with_our_python(argv: list[str]) -> list[str]:
    """A command written for CI (`python -m pytest -q`) run with this interpreter, so it sees the same
    installed packages as the agent."""
    if argv and Path(argv[0]).name in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return argv


def run(argv: list[str], cwd: Path, timeout_s: float = TOOL_TIMEOUT_S) -> ToolRun:
    """Run `argv` in `cwd`; a timeout kills its process group and reports exit code 124."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=_tool_env(),
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        stderr += f"\n[ticketpilot] killed after {timeout_s:g}s timeout"
        return ToolRun(argv, TIMEOUT_EXIT_CODE, time.monotonic() - started, stdout, stderr, timed_out=True)
    return ToolRun(argv, proc.returncode, time.monotonic() - started, stdout, stderr)


_MODEL_KEYS = frozenset(f"{kind.env}_API_KEY" for kind in PROVIDERS.values())
"""The model providers' API keys: code a model wrote runs under these tools and must never read them."""


def _tool_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TICKETPILOT_") and k != "PYTHONPATH" and k not in _MODEL_KEYS}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "160"  # test runners wrap and cut their summaries to this: the same on every machine
    return env


def _checked(result: ToolRun, ok: tuple[int, ...]) -> ToolRun:
    if result.timed_out or result.exit_code not in ok:
        tool = " ".join(result.argv[2:4])
        raise ToolError(f"{tool} failed (exit {result.exit_code}): {result.output_tail[-800:].strip()}")
    return result


def _json(result: ToolRun) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        tool = " ".join(result.argv[2:4])
        raise ToolError(f"{tool} printed no JSON ({exc}): {result.output_tail[-800:].strip()}") from exc


def ruff_fix(cwd: Path) -> ToolRun:
    """`ruff check --fix` with the repository's own ruff configuration; remaining findings are not errors."""
    return _checked(run(python_module("ruff", "check", "--fix", "--no-cache", "--exit-zero", "."), cwd), (0,))


def ruff_findings(cwd: Path, paths: list[str]) -> list[dict[str, Any]]:
    """Ruff's findings for `paths`, with repository-relative file names."""
    if not paths:
        return []
    argv = python_module("ruff", "check", "--no-cache", "--exit-zero", "--output-format", "json", "--", *paths)
    findings = _json(_checked(run(argv, cwd), (0,)))
    root = cwd.resolve()
    for finding in findings:
        finding["filename"] = Path(finding["filename"]).resolve().relative_to(root).as_posix()
    return findings


def bandit_findings(cwd: Path, paths: list[str]) -> list[dict[str, Any]]:
    """Bandit's results for `paths` (exit 1 only means it found something)."""
    if not paths:
        return []
    data = _json(_checked(run(python_module("bandit", "-f", "json", "-q", "--", *paths), cwd), (0, 1)))
    return list(data.get("results", []))


def secret_findings(cwd: Path, paths: list[str] | None = None) -> list[dict[str, Any]]:
    """detect-secrets results for `paths` (default: every file of the working copy), one dict per detector
    hit with `filename`, `line_number` and `type`."""
    paths = repo_files(cwd) if paths is None else paths
    findings: list[dict[str, Any]] = []
    for start in range(0, len(paths), _SCAN_BATCH):
        batch = paths[start : start + _SCAN_BATCH]
        data = _json(_checked(run(python_module("detect_secrets", "scan", *batch), cwd), (0,)))
        for hits in data.get("results", {}).values():
            findings.extend(hits)
    return sorted(findings, key=lambda f: (f["filename"], f["line_number"], f["type"]))
