"""GateSensor: a human gate for R2/R3 tickets.

It records the gate request, then defers to GateTrigger (no worker slot held) until an authorised
decision arrives over REST (`POST /ticketpilot/gates/{ticket_key}/approve|reject`). Ops can also approve
by marking this task success in the Airflow UI (task clearance); the merge step then records who did it.
An approval ends the task in the triggerer with the same XCom `_finish` returns (no worker resume); a rejection
fails the run without retries; a timeout escalates (include/gate_timeout.py: the alert channel, the PR and the
work item, the audit log) and fails it with the reason.

The class that decides the gate is the final check's (task `final_check`, what the merge would change) when
that task ran, else the Dev step's; a class that needs no gate (R0/R1) passes at once, with no gate row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from hooks.ado import AzureDevOpsHook
from include.contracts import RiskClass, Ticket
from include.gate_timeout import escalate_timeout
from include.scm import adapter_for
from include.store import gates
from include.store.db import connect
from triggers.gate import GateEvent, GateTrigger, approved_value
from triggers.gate_votes import AdoVotes, pull_ado_votes

DEFAULT_GATE_TIMEOUT = timedelta(days=7)


class GateSensor(BaseSensorOperator):
    """Wait for the approvals the ticket's risk class requires.

    :param ticket: the Ticket as a JSON-able dict.
    :param named_approvers: people of whom at least one must approve an R3 change.
    :param azure_devops_conn_id: for a tenant on Azure DevOps, the connection through which the approvers'
        votes on the ticket's PR are read as decisions (as well as the hook path and the REST/UI ones).
    :param scm_kind: the tenant's forge, where a timeout's reason is written (PR and work item).
    :param poll_interval: seconds between pokes of the gate row (sync path) and between reads of ADO votes;
        a deferred gate is woken by its decision's NOTIFY (triggers/gate_waiter.py).
    """

    ui_color = "#fde68a"

    def __init__(
        self,
        *,
        ticket: Mapping[str, Any],
        named_approvers: list[str] | None = None,
        azure_devops_conn_id: str | None = None,
        scm_kind: str = "local",
        poll_interval: float = 2.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timeout", DEFAULT_GATE_TIMEOUT.total_seconds())
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.ticket = dict(ticket)
        self.named_approvers = list(named_approvers or [])
        self.azure_devops_conn_id = azure_devops_conn_id
        self.scm_kind = scm_kind
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        ticket = Ticket.model_validate(self.ticket)
        run_id = context["run_id"]
        risk, reasons = self._risk(context, ticket)
        if not risk.needs_gate:
            self.log.info("No gate needed for %s: the change is %s (%s)", ticket.ticket_key, risk.value,
                          "; ".join(reasons) or "no reasons given")
            return {"status": "not_needed", "decisions": [], "risk_class": risk.value}
        if reasons:
            self.log.info("%s is %s because: %s", ticket.ticket_key, risk.value, "; ".join(reasons))
        with connect(autocommit=True) as conn:
            gate = gates.request_gate(conn, ticket_key=ticket.ticket_key, run_id=run_id, risk_class=risk,
                                      named_approvers=self.named_approvers, dag_id=self.dag_id)
        self.log.info("Gate open for %s (%s): %d approval(s) needed%s. Approve: POST /ticketpilot/gates/%s/approve "
                      "or mark this task success in the UI.", ticket.ticket_key, risk.value,
                      gate["required_approvals"],
                      f", one of {self.named_approvers}" if risk is RiskClass.R3 and self.named_approvers else "",
                      ticket.ticket_key)
        if gate["status"] != "pending":
            return self._finish(gate["status"], ticket.ticket_key, run_id, f"already {gate['status']}")
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=GateTrigger(ticket_key=ticket.ticket_key, run_id=run_id,
                                timeout_at=time.time() + self.timeout, poll_interval=self.poll_interval,
                                ado_votes=self._ado_votes(context, ticket), end_on_approval=True),
            method_name="execute_complete",
        )

    def poke(self, context: Any) -> bool:
        ticket = Ticket.model_validate(self.ticket)
        ticket_key = ticket.ticket_key
        if (votes := self._ado_votes(context, ticket)) is not None:
            with AzureDevOpsHook(votes["azure_devops_conn_id"]).get_conn() as client:
                pull_ado_votes(client, votes, ticket_key)
        with connect(autocommit=True) as conn:
            status = gates.get_gate(conn, ticket_key, context["run_id"])["status"]
        if status == "pending":
            return False
        self._finish(status, ticket_key, context["run_id"], "")
        return True

    def execute_complete(self, context: Any, event: GateEvent) -> dict[str, Any]:
        if event["status"] == "error":
            raise AirflowException(f"gate check failed: {event['message']}")
        if event["status"] == "timeout":
            raise AirflowFailException(self._escalate(context))
        return self._finish(event["status"], event["ticket_key"], event["run_id"], event["message"],
                            event["decisions"])

    def _finish(self, status: str, ticket_key: str, run_id: str, message: str,
                decisions: list[dict[str, str]] | None = None) -> dict[str, Any]:
        if status == "approved":
            self.log.info("Gate approved for %s by %s", ticket_key, [d["approver"] for d in decisions or []])
            return approved_value(decisions or [])
        if status == "rejected":
            why = "; ".join(f"{d['approver']}: {d['comment'] or 'no comment'}" for d in decisions or []
                            if d["decision"] == "reject")
            raise AirflowFailException(f"Gate rejected for {ticket_key} ({why or message}); nothing was merged.")
        if status == "timeout":
            raise AirflowFailException(
                f"Gate for {ticket_key} was not decided within {timedelta(seconds=self.timeout)}; escalate to the "
                f"tenant's approvers {self.named_approvers or '(none named)'} and re-run the gate task."
            )
        raise AirflowException(f"unexpected gate status {status!r} for {ticket_key}: {message}")

    def _escalate(self, context: Any) -> str:
        """The timeout's notifier, PR and work-item comments and audit row (include/gate_timeout.py)."""
        ticket = Ticket.model_validate(self.ticket)
        dev = context["ti"].xcom_pull(task_ids="dev_change") or {}
        pr_id = int(dev["pr_id"]) if dev.get("pr_id") else None
        scm = adapter_for(ticket.tenant, self.scm_kind, repo=ticket.repo) if pr_id else None
        return escalate_timeout(ticket, context["run_id"], timedelta(seconds=self.timeout), self.named_approvers,
                                scm, pr_id)

    def _ado_votes(self, context: Any, ticket: Ticket) -> AdoVotes | None:
        if self.azure_devops_conn_id is None:
            return None
        dev = context["ti"].xcom_pull(task_ids="dev_change") or {}
        if not dev.get("pr_id"):
            raise AirflowFailException(f"the gate of {ticket.ticket_key} reads votes on the ticket's PR, but "
                                       "dev_change returned no pr_id; clear dev_change, then this task")
        return AdoVotes(azure_devops_conn_id=self.azure_devops_conn_id, repo=ticket.repo, pr_id=int(dev["pr_id"]),
                        approvers=self.named_approvers)

    def _risk(self, context: Any, ticket: Ticket) -> tuple[RiskClass, list[str]]:
        """The final check's class and reasons when it ran; else the larger of the planned class and what
        the Dev step found in the real diff."""
        final = context["ti"].xcom_pull(task_ids="final_check")
        if isinstance(final, Mapping) and final.get("risk_class"):
            return RiskClass(final["risk_class"]), [str(r) for r in final.get("reasons") or []]
        dev = context["ti"].xcom_pull(task_ids="dev_change") or {}
        return ticket.risk_class.at_least(RiskClass(dev.get("risk_class", ticket.risk_class))), []
