"""A ticket that ends without a merge says why, where people look: on the PR (closed, not merged), on the
work item where the forge has one, and in the audit log. Plain code shared by the final check and the merge."""

from __future__ import annotations

import logging

from include.contracts import Ticket
from include.contracts.final_check import FinalCheckResult, FinalOutcome
from include.scm import ScmAdapter
from include.scm.base import CommentsOnWorkItems
from include.store import audit
from include.store.db import connect

log = logging.getLogger(__name__)

_ENDINGS = {
    FinalOutcome.NOTHING_TO_CHANGE: "nothing to change",
    FinalOutcome.ALREADY_LANDED: "already landed",
}


def end_without_merge(scm: ScmAdapter, ticket: Ticket, pr_id: int, result: FinalCheckResult, run_id: str) -> str:
    """Close the PR with the reason, tell the work item, audit it; returns the one-line reason. Every write is
    keyed, so a retried task repeats nothing."""
    ending = _ENDINGS[result.outcome]
    reason = f"Ticketpilot closed this without merging ({ending}): {result.summary}."
    key = f"{ticket.ticket_key}:final:r{ticket.rev}:{result.outcome.value}"
    scm.abandon(pr_id, reason, key)
    if isinstance(scm, CommentsOnWorkItems):
        scm.comment_work_item(ticket.workitem_id, reason, key)
    else:
        log.info("the %s forge has no work item to comment on; the reason is on PR #%s", type(scm).__name__, pr_id)
    with connect() as conn, conn.transaction():
        audit.append(conn, actor="ticketpilot", action=f"ticket.{result.outcome.value}", subject=ticket.ticket_key,
                     tenant=ticket.tenant,
                     details={"run_id": run_id, "pr_id": pr_id, "base_commit": result.base_commit,
                              "head_commit": result.head_commit, "summary": result.summary})
    return reason
