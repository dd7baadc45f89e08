"""FinalCheckOperator: the risk policy on the final change, right before the gate.

It runs after the Pipeline step and every fix round, so the class the gate and the merge act on is the class
of what would really merge. A raised class parks the ticket at the gate with the reasons (the gate reads this
task's XCom); an empty final change ends the ticket ("nothing to change" or "already landed"): the PR is closed
with the reason and the rest of the run is skipped, so nothing merges and no docs claim a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include import final_check
from include.contracts import DevResult, PipelineResult, PoResult, Ticket
from include.contracts.evidence import CriterionEvidence
from include.contracts.final_check import FinalOutcome
from include.policies.version import policy_version
from include.scm import adapter_for
from include.store import audit
from include.store.db import connect
from include.ticket_end import end_without_merge


class FinalCheckOperator(BaseOperator):
    """Classify the final change against the current default branch; skip the rest when there is none.

    :param ticket: the Ticket as a JSON-able dict.
    :param scm_kind: the tenant's SCM adapter (``local`` by default).
    """

    ui_color = "#fef3c7"

    def __init__(self, *, ticket: Mapping[str, Any], scm_kind: str = "local", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticket = dict(ticket)
        self.scm_kind = scm_kind

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        ticket = Ticket.model_validate(self.ticket)
        dev = DevResult.model_validate(ti.xcom_pull(task_ids="dev_change"))
        plan = plan_from_xcom(ti, ticket, dev)
        scm = adapter_for(ticket.tenant, self.scm_kind, repo=ticket.repo)
        review = ti.xcom_pull(task_ids="review") or {}
        criteria = [CriterionEvidence.model_validate(item) for item in review.get("criteria", [])]
        result = final_check.with_stale_lock_files(
            final_check.with_unmet_criteria(final_check.check(scm, ticket, dev.branch, plan), criteria),
            dev.stale_lock_files)
        self.log.info("Final check of %s: %s", ticket.ticket_key, result.summary)
        for reason in result.reasons:
            self.log.info("  %s", reason)
        if result.outcome is FinalOutcome.CONFLICT:
            raise AirflowFailException(f"{ticket.ticket_key}: {result.summary}")
        if result.outcome is not FinalOutcome.MERGE:
            reason = end_without_merge(scm, ticket, dev.pr_id, result, context["run_id"])
            raise AirflowSkipException(reason)
        key = f"{ticket.ticket_key}:final:r{ticket.rev}:{result.base_commit[:12]}:{result.head_commit[:12]}"
        scm.comment(dev.pr_id, final_check.gate_comment(result), key)
        if result.risk_class != ticket.risk_class:  # raised since the door: by PO, Dev or this final change
            with connect() as conn, conn.transaction():
                audit.append(conn, actor="ticketpilot", action="risk.raised", subject=ticket.ticket_key,
                             tenant=ticket.tenant,
                             details={"run_id": context["run_id"], "from": ticket.risk_class.value,
                                      "planned": result.planned_risk.value, "to": result.risk_class.value,
                                      "reasons": result.reasons, "policy_version": policy_version()})
        return result.model_dump(mode="json")


def plan_from_xcom(ti: Any, ticket: Ticket, dev: DevResult) -> final_check.Plan:
    """The plan as the run's earlier steps left it (the PO's effective kind and class, the CI file the Pipeline
    step wrote); shared with the merge, which checks the same plan against the default branch at merge time."""
    po_data = ti.xcom_pull(task_ids="po_refine")
    pipeline_data = ti.xcom_pull(task_ids="pipeline_yaml")
    return final_check.Plan.of(ticket, dev, PoResult.model_validate(po_data) if po_data else None,
                               PipelineResult.model_validate(pipeline_data) if pipeline_data else None)
