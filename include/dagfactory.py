"""Build one Airflow DAG per open ticket. Parse-time cost: one query, no network, O(open tickets).

When a worker parses the file to run one task, Airflow's parsing context names the DAG, and only that
ticket is loaded and built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, chain

from include.contracts import AgentRole, ChangeKind, Ticket
from include.contracts.ticket import FACTORY_DAG_ID as ANCHOR_DAG_ID
from include.settings import get_settings
from include.store.db import connect
from include.tenancy.naming import tenant_namespace, tenant_pool
from operators.ado_pipeline import QueueAdoPipelineOperator
from operators.agent_pod import AgentPodOperator
from operators.cost_report import CostReportOperator
from operators.final_check import FinalCheckOperator
from operators.merge import MergeOperator
from sensors.ado import AdoPipelineRunSensor
from sensors.gate import GateSensor

DAG_PREFIX = "ticket__"
RETENTION = timedelta(hours=24)
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TicketSpec:
    """A ticket plus the tenant settings its DAG needs."""

    ticket: Ticket
    scm_kind: str = "local"
    approvers: list[str] = field(default_factory=list)
    ado_pipeline_id: int | None = None

    @property
    def ado_conn_id(self) -> str | None:
        """The tenant's Azure DevOps connection, for tenants on the `ado` SCM."""
        return f"ado_{self.ticket.tenant}" if self.scm_kind == "ado" else None


_QUERY = """
SELECT t.ticket, te.scm_kind, te.approvers, te.ado_pipeline_id
FROM ticketpilot.tickets t JOIN ticketpilot.tenants te USING (tenant_id)
WHERE (t.state = 'open'
       OR (t.closed_at > now() - %(retention)s
           AND EXISTS (SELECT 1 FROM ticketpilot.outbox o WHERE o.ticket_key = t.ticket_key AND o.run_id IS NOT NULL)))
  {only}
ORDER BY t.tenant_id, t.workitem_id
"""


def load_specs(db_url: str | None = None, only_dag_id: str | None = None) -> list[TicketSpec]:
    """Open tickets, plus closed ones that ran, for the retention window (their DAG keeps its run history
    browsable); a ticket closed before it ever ran never gets a DAG."""
    query = _QUERY.format(only="AND t.dag_id = %(dag_id)s" if only_dag_id else "")
    with connect(db_url, autocommit=True) as conn:
        rows = conn.execute(query, {"retention": RETENTION, "dag_id": only_dag_id}).fetchall()
    return [TicketSpec(Ticket.model_validate(r["ticket"]), r["scm_kind"], list(r["approvers"]), r["ado_pipeline_id"])
            for r in rows]


def build_ticket_dag(spec: TicketSpec) -> DAG:
    """po_refine → dev_change → [pipeline_yaml] → test_fix_loop → [ci_queue → ci_wait] → review → final_check →
    gate → merge → docs → report_cost. The ci tasks run the tenant's Azure Pipelines pipeline on the branch (ado
    tenants that set one); an ado tenant's gate also reads its approvers' votes on the PR.

    Every DAG has a gate: the class that decides it is the final change's (final_check), known only at run time,
    so an R1 ticket whose fix rounds touched an auth module still parks there, and an R0/R1 change passes it at
    once. A final_check that finds nothing to merge skips gate, merge and docs; report_cost still runs."""
    ticket = spec.ticket
    data = ticket.model_dump(mode="json")
    with DAG(
        dag_id=ticket.dag_id,
        dag_display_name=f"#{ticket.workitem_id} {ticket.title}"[:200],
        description=f"{ticket.tenant}: {ticket.change_kind} ticket, risk {ticket.risk_class}",
        doc_md=_doc_md(ticket),
        tags=[f"tenant:{ticket.tenant}", f"risk:{ticket.risk_class}", f"kind:{ticket.change_kind}"],
        schedule=None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        default_args={
            "owner": f"tenant:{ticket.tenant}",
            "pool": tenant_pool(ticket.tenant),
            "retries": 2,
            "retry_delay": timedelta(seconds=5),
            "execution_timeout": timedelta(minutes=30),
        },
    ) as dag:
        def agent(role: AgentRole, task_id: str, upstream: dict[str, str]) -> AgentPodOperator:
            return AgentPodOperator(task_id=task_id, role=role, ticket=data, upstream=upstream,
                                    scm_kind=spec.scm_kind, namespace=tenant_namespace(ticket.tenant))

        po = agent(AgentRole.PO, "po_refine", {})
        dev = agent(AgentRole.DEV, "dev_change", {"po": "po_refine"})
        steps = [po, dev]
        if ticket.change_kind is not ChangeKind.DOCS:
            steps.append(agent(AgentRole.PIPELINE, "pipeline_yaml", {"dev": "dev_change"}))
        steps.append(agent(AgentRole.TEST, "test_fix_loop", {"dev": "dev_change"}))
        if spec.ado_conn_id and spec.ado_pipeline_id:
            steps += _ado_pipeline_tasks(data, spec.ado_pipeline_id, spec.ado_conn_id)
        steps.append(agent(AgentRole.REVIEW, "review", {"dev": "dev_change", "po": "po_refine",
                                                        "test": "test_fix_loop"}))
        steps.append(FinalCheckOperator(task_id="final_check", ticket=data, scm_kind=spec.scm_kind))
        steps.append(GateSensor(task_id="gate", ticket=data, named_approvers=spec.approvers,
                                azure_devops_conn_id=spec.ado_conn_id, scm_kind=spec.scm_kind))
        steps.append(MergeOperator(task_id="merge", ticket=data, scm_kind=spec.scm_kind, gate_task_id="gate"))
        steps.append(agent(AgentRole.DOCS, "docs", {"dev": "dev_change", "po": "po_refine", "merge": "merge"}))
        steps.append(CostReportOperator(task_id="report_cost", ticket=data, trigger_rule="none_failed"))
        chain(*steps)
    return dag


def _ado_pipeline_tasks(ticket: dict, pipeline_id: int, conn_id: str) -> list:
    """Queue the run once per commit, then wait for it in the triggerer; a failed run stops the ticket."""
    poll = get_settings().external_poll_s
    return [
        QueueAdoPipelineOperator(task_id="ci_queue", ticket=ticket, pipeline_id=pipeline_id,
                                 azure_devops_conn_id=conn_id),
        AdoPipelineRunSensor(task_id="ci_wait", pipeline_id=pipeline_id, azure_devops_conn_id=conn_id,
                             run_id="{{ ti.xcom_pull(task_ids='ci_queue')['run_id'] }}", poll_interval=poll),
    ]


def build_anchor_dag() -> DAG:
    """A permanent DAG in the factory file: Airflow's reparse API needs a DAG in the file to find it."""
    with DAG(
        dag_id=ANCHOR_DAG_ID,
        dag_display_name="Ticketpilot: ticket DAG factory",
        description="Anchor of dags/ticket_factory.py; the spawner re-parses this file for new tickets.",
        doc_md=__doc__,
        tags=["ticketpilot", "platform"],
        schedule=None,
        start_date=START,
        catchup=False,
        is_paused_upon_creation=False,
    ) as dag:
        from airflow.providers.standard.operators.empty import EmptyOperator

        EmptyOperator(task_id="factory")
    return dag


def build_all(only_dag_id: str | None = None) -> dict[str, DAG]:
    """Every DAG of the factory file, keyed by dag_id; only one ticket's when a worker asks for it."""
    dags = {ANCHOR_DAG_ID: build_anchor_dag()}
    if only_dag_id == ANCHOR_DAG_ID:
        return dags
    wanted = only_dag_id if only_dag_id and only_dag_id.startswith(DAG_PREFIX) else None
    for spec in load_specs(only_dag_id=wanted):
        dags[spec.ticket.dag_id] = build_ticket_dag(spec)
    return dags


def _doc_md(ticket: Ticket) -> str:
    criteria = "\n".join(f"- [ ] {c}" for c in ticket.acceptance_criteria) or "- (none given)"
    link = f"[work item {ticket.workitem_id}]({ticket.url})" if ticket.url else f"work item {ticket.workitem_id}"
    board = " · ".join(f"{label} {value}" for label, value in (
        ("severity", ticket.severity), ("parent", f"#{ticket.parent_id}" if ticket.parent_id else ""),
        ("area", f"`{ticket.area_path}`" if ticket.area_path else ""),
        ("iteration", f"`{ticket.iteration_path}`" if ticket.iteration_path else "")) if value)
    return (
        f"### {ticket.title}\n\n{link} · tenant `{ticket.tenant}` · repo `{ticket.repo}` · "
        f"risk **{ticket.risk_class}** · kind `{ticket.change_kind}` · rev {ticket.rev}\n\n"
        + (f"{ticket.work_item_type} · {board}\n\n" if board else "") +
        f"**Acceptance criteria**\n\n{criteria}\n\n{ticket.description}"
    )
