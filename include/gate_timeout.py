"""A gate nobody decided in time escalates before the run fails: the tenant's alert channel hears of it (a
webhook notifier on `alerts_<tenant>`, else `ticketpilot_alerts`), the reason goes on the PR and on the work item
where the forge has one, and the audit log keeps it. Every write is keyed by the run, so a retried task repeats
nothing; a channel that is down is logged, and does not keep the reason off the work item."""

from __future__ import annotations

import logging
from datetime import timedelta

from include.contracts import Ticket
from include.maintenance.budget_alerts import PLATFORM_CHANNEL, tenant_channel
from include.scm import ScmAdapter
from include.scm.base import CommentsOnWorkItems
from include.store import audit
from include.store.db import connect

log = logging.getLogger(__name__)


def timeout_reason(ticket: Ticket, waited: timedelta, approvers: list[str]) -> str:
    who = ", ".join(approvers) if approvers else "the tenant's approvers"
    return (f"Ticketpilot: the gate of {ticket.ticket_key} ({ticket.title}) was not decided within {waited}; "
            f"nothing was merged. Asked: {who}. To go on, an approver clears the run's gate task in the Airflow UI "
            "(or re-runs it) and decides.")


def escalate_timeout(ticket: Ticket, run_id: str, waited: timedelta, approvers: list[str],
                     scm: ScmAdapter | None, pr_id: int | None) -> str:
    """Notify, comment and audit; returns the reason the gate task fails with."""
    reason = timeout_reason(ticket, waited, approvers)
    key = f"{ticket.ticket_key}:gate-timeout:{run_id}"
    channel = _channel(ticket.tenant)
    if channel is not None:
        from notifications.webhook import WebhookNotificationError, WebhookNotifier

        try:
            WebhookNotifier(conn_id=channel, text=reason, idempotency_key=key,
                            payload={"kind": "gate.timeout", "ticket": ticket.ticket_key, "run_id": run_id,
                                     "tenant": ticket.tenant, "approvers": approvers}).notify({})
        except WebhookNotificationError as exc:
            log.error("the gate timeout of %s could not be sent to %s: %s", ticket.ticket_key, channel, exc)
    else:
        log.warning("no alert channel (connection %s or %s): the gate timeout of %s reaches only the PR and the "
                    "work item", tenant_channel(ticket.tenant), PLATFORM_CHANNEL, ticket.ticket_key)
    if scm is not None and pr_id:
        scm.comment(pr_id, reason, key)
        if isinstance(scm, CommentsOnWorkItems):
            scm.comment_work_item(ticket.workitem_id, reason, key)
    with connect() as conn, conn.transaction():
        audit.append(conn, actor="ticketpilot", action="gate.timeout", subject=ticket.ticket_key,
                     tenant=ticket.tenant, details={"run_id": run_id, "waited_s": waited.total_seconds(),
                                                    "approvers": approvers, "channel": channel, "pr_id": pr_id})
    return reason


def _channel(tenant: str) -> str | None:
    from notifications.webhook import has_connection

    for conn_id in (tenant_channel(tenant), PLATFORM_CHANNEL):
        if has_connection(conn_id):
            return conn_id
    return None
