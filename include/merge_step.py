"""What must hold before a ticket's PR merges, and the merge itself. Plain code: the operator only wires it.

- tests green and review not blocking (upstream results);
- the effective risk class is the planned one raised by what the real diff showed;
- R0/R1 merge on green (audited as automatic); R2/R3 need an approved gate. A gate task marked success
  in the UI counts as that user's approval and is recorded, so R3's two-person rule still applies.
"""

from __future__ import annotations

from typing import Any

from include.contracts import DevResult, GateDecision, GateOutcome, ReviewResult, RiskClass, TestResult, Ticket
from include.scm import ScmAdapter
from include.store import audit, gates
from include.store.db import connect


class MergeRefused(RuntimeError):
    """A precondition does not hold; retrying will not change it."""


def effective_risk(ticket: Ticket, dev: DevResult) -> RiskClass:
    return ticket.risk_class.at_least(dev.risk_class)


def check_ready(ticket: Ticket, dev: DevResult, test: TestResult, review: ReviewResult, has_gate: bool) -> RiskClass:
    if not test.passed:
        raise MergeRefused(f"tests are red for {ticket.ticket_key}: {test.summary}")
    if review.blocking:
        raise MergeRefused(f"review blocks {ticket.ticket_key}: {review.summary}")
    risk = effective_risk(ticket, dev)
    if risk.needs_gate and not has_gate:
        raise MergeRefused(
            f"the diff raised {ticket.ticket_key} from {ticket.risk_class} to {risk}, which needs a human gate; "
            f"add the tag 'risk:{risk}' to the work item so its DAG is rebuilt with a gate"
        )
    return risk


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


def merge(scm: ScmAdapter, ticket: Ticket, dev: DevResult, risk: RiskClass, run_id: str) -> dict[str, Any]:
    """Complete the PR (idempotent in the adapter) and audit how it was allowed to merge."""
    pr = scm.get_pr(dev.pr_id)
    if pr.is_draft:
        pr = scm.publish(pr.pr_id)
    merged = scm.merge(pr.pr_id)
    with connect() as conn, conn.transaction():
        audit.append(conn, actor="ticketpilot", action="pr.merged" if risk.needs_gate else "pr.merged.auto",
                     subject=ticket.ticket_key,
                     details={"run_id": run_id, "pr_id": merged.pr_id, "merge_commit": merged.merge_commit,
                              "risk_class": risk.value})
    return {"pr_id": merged.pr_id, "merge_commit": merged.merge_commit, "risk_class": risk.value,
            "pr_url": merged.url}
