"""Deterministic playbooks: a working copy in, FileChanges out. No SCM, no database, no language model;
a change kind without a playbook raises NeedsModelError instead of guessing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from include.agents.errors import NeedsModelError
from include.agents.playbooks import dependency, lint, secrets, typo
from include.contracts import ChangeKind, Ticket
from include.scm import FileChange

Playbook = Callable[[Ticket, Path], list[FileChange]]


def _pipeline(ticket: Ticket, workdir: Path) -> list[FileChange]:
    """No code change: the pipeline step commits the CI YAML on the same branch."""
    return []


PLAYBOOKS: dict[ChangeKind, Playbook] = {
    ChangeKind.PIPELINE: _pipeline,
    ChangeKind.DEPENDENCY_BUMP: dependency.apply,
    ChangeKind.SECRET_REMEDIATION: secrets.apply,
    ChangeKind.LINT_FIX: lint.apply,
    ChangeKind.DOCS: typo.apply,
}


def playbook_for(ticket: Ticket) -> Playbook:
    """The playbook for the ticket's change kind; raises NeedsModelError before anything is touched."""
    playbook = PLAYBOOKS.get(ticket.change_kind)
    if playbook is None:
        raise NeedsModelError.for_ticket(ticket)
    return playbook
