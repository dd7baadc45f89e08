"""What must hold before a ticket's PR merges, and the merge itself. Plain code: the operator only wires it.

- tests green and review not blocking (upstream results);
- the risk class is the final check's (include/final_check.py): the class of what the merge would change,
  never below the planned one; the merge runs that check again on the default branch as it is now, so a
  change that landed meanwhile is closed instead of merged, and one that now classifies higher is refused;
- R0/R1 merge on green (audited as automatic); R2/R3 need an approved gate. A gate task marked success
  in the UI counts as that user's approval and is recorded, so R3's two-person rule still applies.

After the merge, an adapter whose forge has a board (`resolve_work_item`, e.g. Azure DevOps) gets the work
item moved to Resolved with a summary; the local forge has no board, so nothing is reported there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from include import telemetry
from include.contracts import DevResult, GateDecision, GateOutcome, ReviewResult, RiskClass, TestResult, Ticket
from include.contracts.final_check import FinalCheckResult, FinalOutcome
from include.costs import ticket_cost
from include.scm import ScmAdapter
from include.store import audit, gates
from include.store.db import connect


@runtime_checkable
class ResolvesWorkItems(Protocol):
    """The optional part of an SCM adapter whose forge also holds the ticket's work item."""

    def resolve_work_item(self, workitem_id: int, comment: str) -> None: ...


class MergeRefused(RuntimeError):
    """A precondition does not hold; retrying will not change it."""


def check_ready(ticket: Ticket, final: FinalCheckResult, test: TestResult, review: ReviewResult) -> RiskClass:
    """The class the merge is decided on; MergeRefused when tests, review or the final check say no."""
    if not test.passed:
        raise MergeRefused(f"tests are red for {ticket.ticket_key}: {test.summary}")
    if review.blocking:
        raise MergeRefused(f"review blocks {ticket.ticket_key}: {review.summary}")
    if final.outcome is not FinalOutcome.MERGE:
        raise MergeRefused(f"the final check of {ticket.ticket_key} found nothing to merge: {final.summary}")
    return final.risk_class


def recheck(checked: FinalCheckResult, now: FinalCheckResult, ticket: Ticket) -> None:
    """Refuse when the default branch moved so that the change now deserves a higher class than the one the gate
    (or the automatic merge) was decided on; conflicts are refused too. Empty outcomes are the caller's."""
    if now.outcome is FinalOutcome.CONFLICT:
        raise MergeRefused(now.summary)
    if now.outcome is FinalOutcome.MERGE and now.risk_class.at_least(checked.risk_class) != checked.risk_class:
        raise MergeRefused(
            f"the default branch moved since the final check of {ticket.ticket_key}: the change now classifies "
            f"{now.risk_class.value}, not {checked.risk_class.value} ({'; '.join(now.reasons) or now.summary}); "
            "clear final_check to check it and decide the gate again"
        )


def confirm_gate(ticket: Ticket, run_id: str, ui_approver: str | None) -> dict[str, Any]:
    """The gate row, after recording a UI clearance as a decision; refuse unless it is approved."""
    with connect(autocommit=True) as conn:
        gate = gates.get_gate(conn, ticket.ticket_key, run_id)
        if gate["status"] == "pending" and ui_approver:
            gate = gates.record_decision(conn, GateDecision(
                ticket_key=ticket.ticket_key, run_id=run_id, decision=GateOutcome.APPROVE, approver=ui_approver,
                comment="approved by marking the gate task success in the Airflow UI", source="ui",
            ))
        made = gates.decisions(conn, ticket.ticket_key, run_id)
    if gate["status"] != "approved":
        have = ", ".join(f"{d['approver']} ({d['source']})" for d in made) or "none"
        raise MergeRefused(
            f"gate for {ticket.ticket_key} is {gate['status']}: {gate['risk_class']} needs "
            f"{gate['required_approvals']} distinct approver(s)"
            + (f" including one of {list(gate['named_approvers'])}" if gate["risk_class"] == "R3" else "")
            + f"; approvals so far: {have}"
        )
    return {"status": gate["status"], "decisions": [{k: str(v) for k, v in d.items()} for d in made]}


def merge(scm: ScmAdapter, ticket: Ticket, dev: DevResult, risk: RiskClass, run_id: str,
          reasons: list[str] | None = None) -> dict[str, Any]:
    """Complete the PR (idempotent in the adapter) and audit how it was allowed to merge: the final check's
    reasons go with it, so an unmet acceptance criterion approved at the gate is on record as overridden."""
    with telemetry.span("merge", ticket_key=ticket.ticket_key,
                        attributes={"run.id": run_id, "pr.id": dev.pr_id, "risk.class": risk.value}):
        pr = scm.get_pr(dev.pr_id)
        if pr.is_draft:
            pr = scm.publish(pr.pr_id)
        merged = scm.merge(pr.pr_id)
    with connect() as conn, conn.transaction():
        audit.append(conn, actor="ticketpilot", action="pr.merged" if risk.needs_gate else "pr.merged.auto",
                     subject=ticket.ticket_key, tenant=ticket.tenant,
                     details={"run_id": run_id, "pr_id": merged.pr_id, "merge_commit": merged.merge_commit,
                              "risk_class": risk.value, "reasons": reasons or [],
                              "overridden_criteria": [r for r in reasons or []
                                                      if r.startswith("acceptance criterion unmet")]})
    return {"pr_id": merged.pr_id, "merge_commit": merged.merge_commit, "risk_class": risk.value,
            "pr_url": merged.url}


def report_to_work_item(scm: ScmAdapter, ticket: Ticket, merged: dict[str, Any], approvals: list[str]) -> str | None:
    """Resolve the ticket's work item with what was done; None (and nothing written) when the forge has no
    board. Idempotent through the adapter: an item already resolved is left alone."""
    if not isinstance(scm, ResolvesWorkItems):
        return None
    comment = summary(ticket, merged, approvals, ticket_cost(ticket).cost_usd)
    scm.resolve_work_item(ticket.workitem_id, comment)
    return comment


def summary(ticket: Ticket, merged: dict[str, Any], approvals: list[str], cost_usd: Decimal) -> str:
    """The work item comment: HTML, as the board renders discussion entries."""
    pr = f'<a href="{merged["pr_url"]}">PR {merged["pr_id"]}</a>' if merged.get("pr_url") else f"PR {merged['pr_id']}"
    who = ", ".join(approvals) if approvals else "none needed (merged automatically on green tests and review)"
    return (f"<p>Ticketpilot resolved this work item: {pr} merged as commit <code>{merged['merge_commit']}</code>."
            f"</p><ul><li>Risk class: {merged['risk_class']}</li><li>Approvals: {who}</li>"
            f"<li>Model cost: ${cost_usd:.4f}</li><li>Ticket: {ticket.ticket_key}</li></ul>")
