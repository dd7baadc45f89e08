"""LINT_FIX: `ruff check --fix` with the repository's own configuration, within the files and directories the
ticket names (the whole repository when it names none), and nothing else; whatever ruff cannot fix safely
stays for the review step to report."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from include.agents import tools
from include.agents.errors import ToolError
from include.agents.workspace import changes_since, repo_files, snapshot
from include.contracts import Ticket
from include.scm import FileChange


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    return fix(workdir, lint_scope(ticket, workdir))


_NAMED_AFTER = re.compile(r"\b(?:in|im|under|unter|for|für|of|module|modul|package|paket|directory|ordner)\s+"
                          r"(?:the\s+|dem\s+|der\s+|modul\s+|module\s+|package\s+|paket\s+)?(?P<name>[\w.-]+)", re.I)
_PATHLIKE = re.compile(r"(?<![\w/.-])(?P<path>[\w.-]+(?:/[\w.-]+)+/?|[\w-]+\.(?:py|pyi|toml|cfg|ini))(?![\w/-])")


def lint_scope(ticket: Ticket, workdir: Path) -> list[str]:
    """The files and directories the ticket names (paths, dotted modules, or a directory named after 'in' /
    'im' / 'module'), as they exist in the repository; empty when it names none (the whole repository)."""
    text = f"{ticket.title}\n{ticket.description}"
    files = repo_files(workdir)
    dirs = {str(parent) for path in files for parent in PurePosixPath(path).parents} - {"."}
    scope: list[str] = []
    candidates = [m["path"].rstrip("/.") for m in _PATHLIKE.finditer(text)]
    candidates += [m["name"].rstrip(".") for m in _NAMED_AFTER.finditer(text)]
    for candidate in candidates:
        module = candidate.replace(".", "/")
        for option in (candidate, f"{module}.py", module, f"src/{module}", f"src/{module}.py"):
            if (option in files or option in dirs) and option not in scope:
                scope.append(option)
                break
    return scope


def fix(workdir: Path, scope: list[str] | None = None) -> list[FileChange]:
    """The files ruff rewrote; also the test step's fixer for lint tickets (whole repository)."""
    before = snapshot(workdir)
    if scope:
        result = tools.run(tools.python_module("ruff", "check", "--fix", "--no-cache", "--exit-zero", "--", *scope),
                           workdir)
        if result.exit_code != 0:
            raise ToolError(f"ruff check --fix failed (exit {result.exit_code}): {result.output_tail[-800:].strip()}")
    else:
        tools.ruff_fix(workdir)
    return changes_since(workdir, before)
