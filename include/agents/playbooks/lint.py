"""LINT_FIX: `ruff check --fix` with the repository's own configuration, within the files and directories the
ticket names (the whole repository when it names none), for the rules it names (ruff codes such as F401, or
what teams call them: "unused imports"; the repository's own selection when it names none), and nothing else;
whatever ruff cannot fix safely stays for the review step to report. "Fix F401 in api.py" must not sort
`__all__` in three other modules: a lint ticket is a promise of a small, boring diff."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from include.agents import tools
from include.agents.errors import ToolError
from include.agents.workspace import changes_since, repo_files, snapshot
from include.contracts import Ticket
from include.scm import FileChange


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    """The lint ticket's change; also the Test step's deterministic fixer for a lint ticket's red run."""
    return fix(workdir, lint_scope(ticket, workdir), lint_rules(ticket))


# A name after the word, unless it is the start of a path ("in freezegun/api.py" names the file, not the package).
_NAMED_AFTER = re.compile(r"\b(?:in|im|under|unter|for|für|of|module|modul|package|paket|directory|ordner)\s+"
                          r"(?:the\s+|dem\s+|der\s+|modul\s+|module\s+|package\s+|paket\s+)?(?P<name>[\w.-]+)"
                          r"(?![\w.-]*/)", re.I)
# Ruff's rule codes: a linter prefix and its number (F401, E501, UP006, RUF022, PLR2004, SIM118).
_RULE_CODE = re.compile(r"\b(?P<code>(?:F|E|W|I|N|D|S|B|A|Q|UP|SIM|RUF|PL[CERW]|PT|RET|ARG|ERA|PIE|TRY|PERF|FURB|"
                        r"ISC|COM|DTZ|EM|G|LOG|TID|TCH|TC|PTH|FLY|ASYNC|YTT|BLE|FBT|SLF|INP|EXE|ICN|RSE|ANN)\d{3,4}|"
                        r"C4\d{2}|C90\d|T10\d|T20\d)\b")
# Rules as teams name them, in English and German.
_RULE_NAMES = (
    (re.compile(r"unused\s+imports?|imported\s+but\s+unused|(?:un|nicht\s+)(?:ge|be)nutzte?n?\s+imports?|"
                r"(?:un|nicht\s+)(?:ge|be)nutzte?n?\s+importe", re.I), "F401"),
    (re.compile(r"unused\s+(?:local\s+)?variables?|(?:un|nicht\s+)(?:ge|be)nutzte?n?\s+variablen?", re.I), "F841"),
    (re.compile(r"f-strings?\s+without\s+placeholders?", re.I), "F541"),
    (re.compile(r"(?:sort|order)(?:ing)?\s+(?:of\s+)?(?:the\s+)?imports|import\s+(?:order|sorting)|"
                r"imports?\s+sortieren|import-?reihenfolge", re.I), "I001"),
    (re.compile(r"trailing\s+whitespace|leerzeichen\s+am\s+zeilenende", re.I), "W291"),
)


def lint_rules(ticket: Ticket) -> list[str]:
    """The ruff rules the ticket names, by code or as teams call them; empty when it names none (then the
    repository's own selection applies)."""
    text = f"{ticket.title}\n{ticket.description}"
    rules = [m["code"] for m in _RULE_CODE.finditer(text)]
    rules += [code for pattern, code in _RULE_NAMES if pattern.search(text)]
    return list(dict.fromkeys(rules))
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


def fix(workdir: Path, scope: list[str] | None = None, rules: list[str] | None = None) -> list[FileChange]:
    """The files ruff rewrote in `scope` (the whole repository when empty) for `rules` (the repository's
    selection when empty)."""
    before = snapshot(workdir)
    if scope or rules:
        select = ["--select", ",".join(rules)] if rules else []
        result = tools.run(tools.python_module("ruff", "check", "--fix", "--no-cache", "--exit-zero", *select, "--",
                                               *(scope or ["."])), workdir)
        if result.exit_code != 0:
            raise ToolError(f"ruff check --fix failed (exit {result.exit_code}): {result.output_tail[-800:].strip()}")
    else:
        tools.ruff_fix(workdir)
    return changes_since(workdir, before)
