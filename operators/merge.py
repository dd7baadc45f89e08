"""MergeOperator: merge the ticket's PR once it is green, reviewed and (where needed) approved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include import final_check, merge_step
from include.airflow_client import AirflowClient
from include.contracts import DevResult, ReviewResult, TestResult, Ticket
from include.contracts.final_check import FinalCheckResult, FinalOutcome
from include.scm import adapter_for
from include.ticket_end import end_without_merge
from operators.final_check import plan_from_xcom


class MergeOperator(BaseOperator):
    """Merge once; running it again returns the same merge commit.

    :param ticket: the Ticket as a JSON-able dict.
    :param scm_kind: the tenant's SCM adapter (``local`` by default).
    :param gate_task_id: the gate task of this DAG; consulted when the final check's class needs a gate.
    """

    ui_color = "#d1fae5"

    def __init__(self, *, ticket: Mapping[str, Any], scm_kind: str = "local", gate_task_id: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticket = dict(ticket)
        self.scm_kind = scm_kind
        self.gate_task_id = gate_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        ticket = Ticket.model_validate(self.ticket)
        dev = DevResult.model_validate(ti.xcom_pull(task_ids="dev_change"))
        test = TestResult.model_validate(ti.xcom_pull(task_ids="test_fix_loop"))
        review = ReviewResult.model_validate(ti.xcom_pull(task_ids="review"))
        checked = FinalCheckResult.model_validate(ti.xcom_pull(task_ids="final_check"))
        scm = adapter_for(ticket.tenant, self.scm_kind, repo=ticket.repo)
        try:
            risk = merge_step.check_ready(ticket, checked, test, review)
            gate = None
            if risk.needs_gate:
                gate = merge_step.confirm_gate(ticket, context["run_id"], self._ui_approver(ticket, context))
            now = final_check.check(scm, ticket, dev.branch, plan_from_xcom(ti, ticket, dev))
            if now.outcome in (FinalOutcome.ALREADY_LANDED, FinalOutcome.NOTHING_TO_CHANGE):
                raise AirflowSkipException(end_without_merge(scm, ticket, dev.pr_id, now, context["run_id"]))
            merge_step.recheck(checked, now, ticket)
            result = merge_step.merge(scm, ticket, dev, risk, context["run_id"], checked.reasons)
        except merge_step.MergeRefused as refused:
            raise AirflowFailException(str(refused)) from None
        self.log.info("Merged PR #%s of %s as %s (%s)", result["pr_id"], ticket.ticket_key, result["merge_commit"],
                      risk.value)
        approvals = [d["approver"] for d in gate["decisions"] if d.get("decision") == "approve"] if gate else []
        if merge_step.report_to_work_item(scm, ticket, result, approvals) is not None:
            self.log.info("Resolved work item %s", ticket.workitem_id)
        return {**result, "gate": gate}

    def _ui_approver(self, ticket: Ticket, context: Any) -> str | None:
        """Who marked the gate task success in the UI, if the gate row has no REST decision for it."""
        gate_output = context["ti"].xcom_pull(task_ids=self.gate_task_id)
        if gate_output:  # the sensor itself saw the approval: nothing was cleared by hand
            return None
        with AirflowClient.from_settings() as client:
            for event in client.event_logs(ticket.dag_id, self.gate_task_id or "gate", context["run_id"]):
                if event.get("owner") and event["owner"] != "airflow":
                    return str(event["owner"])
        return None
