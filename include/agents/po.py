"""PO: the ticket's acceptance criteria, completed with the checks its change kind implies, each tagged
with how the platform verifies it (tests, scan, file, docs, review). No SCM writes: the checklist goes
into the draft PR's description and the DAG's docs.

With a model configured (include.agents.llm), the model proposes further criteria the ticket implies. They
are added after the ticket's own, which are never dropped or reworded, and the summary names the model, so a
reviewer knows which lines a model wrote. Without one, or when its answer does not validate, the checklist is
the deterministic one alone; a model budget that refuses the call fails the step (BudgetRefusedError)."""

from __future__ import annotations

import logging
import re
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from include.agents import llm
from include.agents.errors import AgentError
from include.agents.playbooks.dependency import parse_bump
from include.agents.prose import Prose, is_sentence
from include.contracts import AgentTask, ChangeKind, PoResult, Ticket
from include.contracts.agent import AcceptanceItem

log = logging.getLogger(__name__)

REFINE_PROMPT = llm.load_prompt("po_refine", "1.1.0")
MAX_REFINED = 5


class RefinedCriteria(BaseModel):
    """What the model may add: a few short, single-line criteria."""

    criteria: list[Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=8, max_length=240,
                                                      pattern=r"^[^\n]+$")]] = Field(min_length=1, max_length=12)


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


def checklist(ticket: Ticket, refined: list[str] | None = None) -> list[AcceptanceItem]:
    """The ticket's own criteria first, then a model's refinements, then implied checks for the verification
    kinds the ticket's own criteria leave out (a model's line never stands in for the suite or the scan)."""
    items = [AcceptanceItem(text=text, check=check_for(text)) for text in ticket.acceptance_criteria]
    covered = {item.check for item in items}
    items += [AcceptanceItem(text=text, check=check_for(text)) for text in refined or []]
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


def new_criteria(ticket: Ticket, proposed: list[str]) -> list[str]:
    """The proposals that add something: sentences (not a version number, hash or link), not a repeat of the
    ticket's criteria or of each other, at most five."""
    seen = {_normalised(text) for text in ticket.acceptance_criteria}
    added = []
    for text in proposed:
        key = _normalised(text)
        if not is_sentence(text):
            log.info("ticket %s: dropped a proposed criterion that is not a sentence: %r", ticket.ticket_key,
                     text[:80])
            continue
        if key and key not in seen and not any(key in old or old in key for old in seen):
            added.append(text)
            seen.add(key)
    return added[:MAX_REFINED]


def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def refine(task: AgentTask) -> tuple[list[str], str | None]:
    """The model's additional criteria and the model that wrote them; ([], None) without a usable answer."""
    ticket = task.ticket
    own = "\n".join(f"- {text}" for text in ticket.acceptance_criteria) or "(none)"
    answer = llm.complete_json(task, "po.refine", REFINE_PROMPT,
                               {"ticket title": ticket.title, "ticket description": ticket.description,
                                "ticket acceptance criteria": own}, RefinedCriteria, max_tokens=200)
    if answer is None:
        return [], None
    added = new_criteria(ticket, answer.value.criteria)
    return added, answer.model if added else None


def run(task: AgentTask) -> PoResult:
    ticket = task.ticket
    refined, model = refine(task)
    items = checklist(ticket, refined)
    log.info("ticket %s: %d acceptance checks", ticket.ticket_key, len(items))
    by_model = f", {len(refined)} refined by {model}" if model else ""
    return PoResult(
        summary=f"{len(items)} acceptance checks for {ticket.change_kind.value} ticket {ticket.ticket_key} "
        f"({ticket.risk_class.value}{by_model})",
        checklist=items,
        change_kind=ticket.change_kind.value,
        risk_class=ticket.risk_class,
    )
