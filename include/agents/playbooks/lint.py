"""LINT_FIX: `ruff check --fix` with the repository's own configuration, and nothing else; whatever
ruff cannot fix safely stays for the review step to report."""

from __future__ import annotations

from pathlib import Path

from include.agents import tools
from include.agents.workspace import changes_since, snapshot
from include.contracts import Ticket
from include.scm import FileChange


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    return fix(workdir)


def fix(workdir: Path) -> list[FileChange]:
    """The files ruff rewrote; also the test step's fixer for lint tickets."""
    before = snapshot(workdir)
    tools.ruff_fix(workdir)
    return changes_since(workdir, before)
