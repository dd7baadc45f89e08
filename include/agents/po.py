"""PO: what the ticket asks for, decided from evidence, and its acceptance checklist.

The rule tables planned a kind and a class at the door. PO checks that plan against the repository (a
read-only checkout of the default branch): a playbook is chosen only when its precondition holds there
(include/agents/playbooks/preconditions.py). With a model, one call also reads the ticket (kind, affected
areas, criteria, a risk hint); include/policies/understanding.py combines the three. The result's
change_kind and risk_class are the EFFECTIVE ones Dev works with. A playbook ticket whose precondition fails
becomes model work where a model is configured; without one the step fails here (PreconditionFailedError,
exit 3) and says on the work item, where the forge has one, what is missing and what to configure.

The checklist is the ticket's acceptance criteria, completed with the checks its change kind implies, each
tagged with how the platform verifies it (tests, scan, file, docs, review); it goes into the draft PR's
description and the DAG's docs.

With a model configured (include.agents.llm), the model proposes further criteria the ticket implies. They
are added after the ticket's own, which are never dropped or reworded, and the summary names the model, so a
reviewer knows which lines a model wrote. Without one, or when its answer does not validate, the checklist is
the deterministic one alone; a model budget that refuses the call fails the step (BudgetRefusedError)."""

from __future__ import annotations

import logging
import re
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from include.agents import code_pointers, llm
from include.agents.context import idempotency_key, scm_for, scm_kind
from include.agents.errors import AgentError, NeedsModelError
from include.agents.playbooks import pipeline as template
from include.agents.playbooks import preconditions
from include.agents.playbooks.dependency import requested
from include.agents.prose import Prose, is_sentence
from include.agents.workspace import checked_out
from include.contracts import AgentTask, ChangeKind, PoResult, RiskClass, Ticket
from include.contracts.agent import AcceptanceItem
from include.policies.understanding import Decision, decide
from include.scm.base import CommentsOnWorkItems, ScmError

log = logging.getLogger(__name__)

REFINE_PROMPT = llm.load_prompt("po_refine", "2.1.0")
MAX_REFINED = 5

_Line = Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=8, max_length=240, pattern=r"^[^\n]+$")]
_Area = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=r"^[^\n]+$")]


class TicketReading(BaseModel):
    """The model's reading of the ticket: a few short criteria, and optionally its kind, the areas it touches
    and a risk hint with its reason (an answer that gives criteria only is still an answer)."""

    criteria: list[_Line] = Field(min_length=1, max_length=12)
    change_kind: ChangeKind | None = None
    affected_areas: list[_Area] = Field(default_factory=list, max_length=8)
    risk_hint: RiskClass | None = None
    risk_reason: str = Field(default="", max_length=240)

    @property
    def counted_risk(self) -> RiskClass | None:
        """The hint, when it comes with a reason that reads as a sentence: a bare class is not evidence."""
        return self.risk_hint if self.risk_hint and is_sentence(self.risk_reason, at_least=3) else None


class PreconditionFailedError(AgentError):
    """The ticket's playbook does not apply to the repository and no model is configured to do the work."""


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


def checklist_of(task: AgentTask) -> list[AcceptanceItem]:
    """The PO step's checklist when it ran (later steps get it upstream), else the deterministic one."""
    if "po" in task.upstream:
        return PoResult.model_validate(task.upstream["po"]).checklist
    return checklist(task.ticket)


def _kind_items(ticket: Ticket) -> tuple[tuple[str, str], ...]:
    if ticket.change_kind is ChangeKind.DEPENDENCY_BUMP:
        try:
            package, version = requested(ticket)  # as written: npm and NuGet versions are not all PEP 440
        except AgentError:
            return (("The requested version is pinned", "file"),)
        return ((f"{package} is pinned at {version}", "file"),)
    if ticket.change_kind is ChangeKind.PIPELINE:
        path = template.forge_ci(scm_kind()).path
        return ((f"{path} exists and runs the repository's tests", "file"),)
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


def read(task: AgentTask, pointers: list[str] | None = None) -> llm.Answer[TicketReading] | None:
    """The model's reading of the ticket, with the code index's pointers for it where there are any; None
    without a model or a valid answer."""
    ticket = task.ticket
    own = "\n".join(f"- {text}" for text in ticket.acceptance_criteria) or "(none)"
    blocks = {"ticket title": ticket.title, "ticket description": ticket.description,
              "ticket tags": ", ".join(ticket.tags) or "(none)", "ticket acceptance criteria": own}
    if pointers:
        blocks["where the code index points for this ticket"] = "\n".join(pointers)
    return llm.complete_json(task, "po.refine", REFINE_PROMPT, blocks, TicketReading, max_tokens=320)


def look_at_repository(ticket: Ticket, with_pointers: bool) -> tuple[preconditions.Precondition, list[str]]:
    """On one read-only checkout of the default branch: the playbook's precondition (`feature` needs none) and,
    for a model's reading, the code index's pointers for the ticket."""
    scm = scm_for(ticket)
    with checked_out(scm, ticket.repo, scm.default_branch(ticket.repo)) as workdir:
        if ticket.change_kind is ChangeKind.FEATURE:
            checked = preconditions.Precondition(True, "no playbook: nothing to check in the repository")
        else:
            checked = preconditions.check(ticket, workdir, scm_kind())
        pointers = code_pointers.for_ticket(ticket, workdir) if with_pointers else []
    return checked, pointers


def run(task: AgentTask) -> PoResult:
    ticket = task.ticket
    config = llm.LlmConfig.for_tenant(ticket.tenant)
    has_model = config is not None
    checked, pointers = look_at_repository(ticket, with_pointers=code_pointers.fit(config))
    answer = read(task, pointers)
    reading = answer.value if answer else None
    decision = decide(ticket.change_kind, ticket.risk_class, precondition_ok=checked.ok, precondition=checked.reason,
                      has_model=has_model,
                      model_kind=reading.change_kind if reading else None,
                      model_risk=reading.counted_risk if reading else None)
    log.info("ticket %s: %s -> %s at %s (%s)", ticket.ticket_key, ticket.change_kind.value,
             decision.change_kind.value, decision.risk_class.value, decision.reason)
    if decision.outcome == "refused":
        raise _refuse(ticket, decision)
    effective = ticket.model_copy(update={"change_kind": decision.change_kind, "risk_class": decision.risk_class})
    refined = new_criteria(ticket, reading.criteria) if reading else []
    items = checklist(effective, refined)
    by_model = f", {len(refined)} refined by {answer.model}" if answer and refined else ""
    turned = f", planned as {ticket.change_kind.value}" if effective.change_kind is not ticket.change_kind else ""
    return PoResult(
        summary=f"{len(items)} acceptance checks for {effective.change_kind.value} ticket {ticket.ticket_key} "
        f"({effective.risk_class.value}{by_model}{turned}): {decision.reason}",
        checklist=items,
        change_kind=effective.change_kind.value,
        risk_class=effective.risk_class,
        planned_change_kind=ticket.change_kind.value,
        precondition=decision.reason,
        model_change_kind=reading.change_kind.value if reading and reading.change_kind else None,
        affected_areas=list(reading.affected_areas) if reading else [],
        code_pointers=pointers,
        risk_hint=reading.counted_risk if reading else None,
        understood_by=answer.model if answer else None,
    )


def _refuse(ticket: Ticket, decision: Decision) -> PreconditionFailedError:
    """The error that ends the ticket at PO, after telling the work item (where the forge has one) why."""
    configure = str(NeedsModelError.for_ticket(ticket.model_copy(update={"change_kind": ChangeKind.FEATURE})))
    configure = configure.split(" and none is configured. ", 1)[-1]
    message = (f"Ticket {ticket.ticket_key} stops at PO: {decision.reason}. No deterministic playbook can do it, "
               f"and no language model is configured to make the change instead. {configure}")
    scm = scm_for(ticket)
    if isinstance(scm, CommentsOnWorkItems):
        try:
            scm.comment_work_item(ticket.workitem_id, message, idempotency_key(ticket, "po", "refused"))
        except ScmError as exc:
            log.warning("could not comment on work item %s (%s); the reason is in this task log",
                        ticket.workitem_id, exc)
    else:
        log.info("the %s forge has no work item to comment on; the reason is in this task log", type(scm).__name__)
    return PreconditionFailedError(message)
