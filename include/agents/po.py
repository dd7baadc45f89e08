"""PO: the ticket's acceptance criteria, completed with the checks its change kind implies, each tagged
with how the platform verifies it (tests, scan, file, docs, review). No SCM writes: the checklist goes
into the draft PR's description and the DAG's docs."""

from __future__ import annotations

import logging
import re

from include.agents.errors import AgentError
from include.agents.playbooks.dependency import parse_bump
from include.contracts import AgentTask, ChangeKind, PoResult, Ticket
from include.contracts.agent import AcceptanceItem

log = logging.getLogger(__name__)

_CHECK_FOR_TEXT = (
    ("scan", re.compile(r"secret|credential|leak|detect-secrets|\bkeys?\b", re.I)),
    ("file", re.compile(r"\.ya?ml\b|\.txt\b|\.toml\b|pipeline|\bpin", re.I)),
    ("tests", re.compile(r"\btests?\b|pytest", re.I)),
    ("docs", re.compile(r"changelog|readme|documentation|\bdocs?\b", re.I)),
)
"""First match wins: a criterion about a leaked key is verified by the scanner even if it mentions tests."""

_ALWAYS = (
    ("The test suite passes on the PR branch", "tests"),
    ("No secrets in the diff", "scan"),
    ("CHANGELOG.md has an entry for this ticket under [Unreleased]", "docs"),
)
_FOR_KIND = {
    ChangeKind.PIPELINE: (("azure-pipelines.yml installs the dependencies and runs the tests", "file"),),
    ChangeKind.SECRET_REMEDIATION: (("README documents the environment variables that replace the secret", "docs"),),
    ChangeKind.LINT_FIX: (("ruff reports no findings in the changed files", "review"),),
    ChangeKind.DOCS: (("The named typo no longer occurs in the documentation", "review"),),
    ChangeKind.FEATURE: (("A reviewer confirms the change does what the ticket asks", "review"),),
}


def check_for(text: str) -> str:
    return next((check for check, pattern in _CHECK_FOR_TEXT if pattern.search(text)), "review")


def checklist(ticket: Ticket) -> list[AcceptanceItem]:
    """The ticket's own criteria first, then implied checks for the verification kinds they leave out."""
    items = [AcceptanceItem(text=text, check=check_for(text)) for text in ticket.acceptance_criteria]
    covered = {item.check for item in items}
    for text, check in (*_kind_items(ticket), *_ALWAYS):
        if check not in covered or check == "review":
            items.append(AcceptanceItem(text=text, check=check))
            covered.add(check)
    return items


def _kind_items(ticket: Ticket) -> tuple[tuple[str, str], ...]:
    if ticket.change_kind is ChangeKind.DEPENDENCY_BUMP:
        try:
            package, version = parse_bump(ticket)
        except AgentError:
            return (("The requested version is pinned", "file"),)
        return ((f"{package} is pinned at {version}", "file"),)
    return _FOR_KIND.get(ticket.change_kind, ())


def run(task: AgentTask) -> PoResult:
    ticket = task.ticket
    items = checklist(ticket)
    log.info("ticket %s: %d acceptance checks", ticket.ticket_key, len(items))
    return PoResult(
        summary=f"{len(items)} acceptance checks for {ticket.change_kind.value} ticket {ticket.ticket_key} "
        f"({ticket.risk_class.value})",
        checklist=items,
        change_kind=ticket.change_kind.value,
        risk_class=ticket.risk_class,
    )
