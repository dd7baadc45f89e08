"""The repository tools agents run (ruff, bandit, detect-secrets, pytest), always through the sandbox
(include/sandbox): no network, no credentials, a filesystem limited to the working copy, an environment built
from an allowlist, rlimits and a timeout that kills the whole process group.

The scanners only read the files, so they run as `python -I -m ...` of the platform's interpreter (the versions
pinned with Ticketpilot, never whatever is first on PATH; `-I` so a repository module named like a scanner
cannot stand in for it). The test command runs with the repository's own venv (`repo_sandbox`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from include.agents.errors import ToolError
from include.agents.workspace import repo_files
from include.sandbox import TIMEOUT_EXIT_CODE, Sandbox, ToolRun, VenvBuildError

__all__ = ["TIMEOUT_EXIT_CODE", "TOOL_TIMEOUT_S", "ToolRun", "bandit_findings", "python_module", "repo_sandbox",
           "ruff_findings", "ruff_fix", "run", "secret_findings", "with_our_python",
           "with_python"]

TOOL_TIMEOUT_S = 300
_SCAN_BATCH = 200  # files per detect-secrets call, far below any argv limit


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-I", "-m", module, *args]


def with_python(argv: list[str], python: str) -> list[str]:
    """A command written for CI (`python -m pytest -q`) run with `python`; other commands as they are."""
    if argv and Path(argv[0]).name in ("python", "python3"):
        return [python, *argv[1:]]
    return argv


def with_our_python(argv: list[str]) -> list[str]:
    """A CI command run with the platform's interpreter, for checks that bring no dependencies of their own
    (the evals' hidden checks)."""
    return with_python(argv, sys.executable)


def run(argv: list[str], cwd: Path, timeout_s: float = TOOL_TIMEOUT_S) -> ToolRun:
    """Run `argv`, a command of the platform's interpreter, in the sandbox over the working copy `cwd`."""
    return Sandbox.for_tools(cwd).run(argv, timeout_s)


def repo_sandbox(workdir: Path) -> Sandbox:
    """The sandbox with the repository's own venv; a venv that cannot be built fails the step with the
    installer's words (a pin that does not exist, an index that is down)."""
    try:
        return Sandbox.for_workdir(workdir)
    except VenvBuildError as exc:
        raise ToolError(str(exc)) from exc


def _tool(result: ToolRun) -> str:
    """The scanner's name and subcommand, for messages: the words after `-m`."""
    argv = result.argv
    start = argv.index("-m") + 1 if "-m" in argv else 0
    return " ".join(argv[start : start + 2])


def _checked(result: ToolRun, ok: tuple[int, ...]) -> ToolRun:
    if result.timed_out or result.exit_code not in ok:
        raise ToolError(f"{_tool(result)} failed (exit {result.exit_code}): {result.output_tail[-800:].strip()}")
    return result


def _json(result: ToolRun) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ToolError(f"{_tool(result)} printed no JSON ({exc}): {result.output_tail[-800:].strip()}") from exc


def ruff_fix(cwd: Path) -> ToolRun:
    """`ruff check --fix` with the repository's own ruff configuration; remaining findings are not errors."""
    return _checked(run(python_module("ruff", "check", "--fix", "--no-cache", "--exit-zero", "."), cwd), (0,))


def ruff_findings(cwd: Path, paths: list[str], select: list[str] | None = None) -> list[dict[str, Any]]:
    """Ruff's findings for `paths` (for the rules in `select`, else the repository's), with repository-relative
    file names."""
    if not paths:
        return []
    rules = ["--select", ",".join(select)] if select else []
    argv = python_module("ruff", "check", "--no-cache", "--no-fix", "--exit-zero", "--output-format", "json", *rules,
                         "--", *paths)  # --no-fix: a repository's `fix = true` would make looking rewrite the files
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
