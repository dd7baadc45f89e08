"""DAG integrity over every generated ticket DAG: imports clean, ids, tags, shape, retries, parse cost."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag

from include.contracts import ChangeKind, RiskClass, Ticket
from include.dagfactory import build_all, load_specs
from include.settings import REPO_ROOT

FACTORY = REPO_ROOT / "dags" / "ticket_factory.py"
SEEDED = [
    (101, ChangeKind.PIPELINE, RiskClass.R1),
    (102, ChangeKind.DEPENDENCY_BUMP, RiskClass.R1),
    (103, ChangeKind.SECRET_REMEDIATION, RiskClass.R3),
    (104, ChangeKind.LINT_FIX, RiskClass.R0),
    (105, ChangeKind.DOCS, RiskClass.R0),
    (106, ChangeKind.FEATURE, RiskClass.R2),
]
BASE_CHAIN = ["po_refine", "dev_change", "pipeline_yaml", "test_fix_loop", "review", "final_check", "gate", "merge",
              "docs", "report_cost"]


def make_ticket(workitem: int, kind: ChangeKind, risk: RiskClass, tenant: str = "demo") -> Ticket:
    return Ticket(tenant=tenant, workitem_id=workitem, rev=1, title=f"Ticket {workitem} {kind}", repo="svc",
                  change_kind=kind, risk_class=risk, acceptance_criteria=["tests pass"],
                  url=f"https://dev.azure.com/org/proj/_workitems/edit/{workitem}")


def insert(db: psycopg.Connection, tickets: list[Ticket], state: str = "open") -> None:
    tenants = {t.tenant for t in tickets}
    for tenant in tenants:
        db.execute("INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, default_repo, "
                   "approvers) VALUES (%s, %s, 'x', 'svc', %s) ON CONFLICT DO NOTHING", (tenant, tenant, ["alice"]))
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO ticketpilot.tickets"
            " (ticket_key, tenant_id, workitem_id, rev, dag_id, state, ticket, closed_at)"
            " VALUES (%s, %s, %s, 1, %s, %s, %s, CASE WHEN %s = 'closed' THEN now() - interval '2 days' END)",
            [(t.ticket_key, t.tenant, t.workitem_id, t.dag_id, state, json.dumps(t.model_dump(mode="json")), state)
             for t in tickets],
        )


@pytest.fixture
def dagbag(db: psycopg.Connection) -> DagBag:
    insert(db, [make_ticket(*s) for s in SEEDED])
    insert(db, [make_ticket(900, ChangeKind.LINT_FIX, RiskClass.R0)], state="closed")
    return DagBag(dag_folder=str(FACTORY), safe_mode=False)


def test_factory_imports_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"ticketpilot__factory"} | {f"ticket__demo__{w}" for w, _, _ in SEEDED}


def test_closed_tickets_drop_out_after_retention(dagbag: DagBag) -> None:
    assert "ticket__demo__900" not in dagbag.dag_ids


def test_recently_closed_ticket_keeps_its_dag_only_if_it_ran(db: psycopg.Connection) -> None:
    ran = make_ticket(910, ChangeKind.LINT_FIX, RiskClass.R0)
    never_ran = make_ticket(911, ChangeKind.DOCS, RiskClass.R0)
    insert(db, [ran, never_ran])
    db.execute("UPDATE ticketpilot.tickets SET state = 'closed', closed_at = now() - interval '1 hour'")
    db.execute("INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, run_id, processed_at) "
               "VALUES (%s, %s, 1, 'ticket__r1', now())", (ran.ticket_key, ran.dag_id))
    assert [s.ticket.dag_id for s in load_specs()] == [ran.dag_id]


@pytest.mark.parametrize(("workitem", "kind", "risk"), SEEDED, ids=[f"ticket__demo__{w}" for w, _, _ in SEEDED])
def test_ticket_dag_follows_the_ticket(dagbag: DagBag, workitem: int, kind: ChangeKind, risk: RiskClass) -> None:
    dag = dagbag.dags[f"ticket__demo__{workitem}"]
    expected = [t for t in BASE_CHAIN if not (t == "pipeline_yaml" and kind is ChangeKind.DOCS)]
    assert [t.task_id for t in dag.topological_sort()] == expected
    for upstream, downstream in zip(expected, expected[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert set(dag.tags) == {"tenant:demo", f"risk:{risk}", f"kind:{kind}"}
    assert dag.dag_display_name.startswith(f"#{workitem} ")
    assert "tests pass" in dag.doc_md
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.pool == "tenant_demo"
    assert dag.get_task("report_cost").trigger_rule == "none_failed", "a ticket that ends unmerged is still costed"


def test_gate_of_an_r3_ticket_names_the_tenant_approvers(dagbag: DagBag) -> None:
    assert dagbag.dags["ticket__demo__103"].get_task("gate").named_approvers == ["alice"]


def test_worker_parse_builds_only_the_requested_ticket(db: psycopg.Connection) -> None:
    insert(db, [make_ticket(*s) for s in SEEDED])
    assert set(build_all(only_dag_id="ticket__demo__103")) == {"ticketpilot__factory", "ticket__demo__103"}
    assert len(load_specs()) == len(SEEDED)


def test_factory_parse_of_1000_open_tickets_stays_cheap(db: psycopg.Connection) -> None:
    """Not a timing assertion (see bench/): it proves the query count and that 1000 DAGs build at all."""
    insert(db, [make_ticket(1000 + i, ChangeKind.LINT_FIX, RiskClass.R0, tenant=f"t{i % 10}x") for i in range(1000)])
    started = time.perf_counter()
    dags = build_all()
    print(f"built {len(dags)} DAGs in {time.perf_counter() - started:.2f}s")
    assert len(dags) == 1001


def test_agents_and_merge_get_the_tenant_scm_kind(db: psycopg.Connection) -> None:
    insert(db, [make_ticket(120, ChangeKind.LINT_FIX, RiskClass.R0, tenant="contoso")])
    db.execute("UPDATE ticketpilot.tenants SET scm_kind = 'ado' WHERE tenant_id = 'contoso'")
    dag = build_all(only_dag_id="ticket__contoso__120")["ticket__contoso__120"]
    kinds = {t.task_id: t.scm_kind for t in dag.tasks if hasattr(t, "scm_kind")}
    assert kinds == dict.fromkeys(kinds, "ado")
    assert set(kinds) == set(BASE_CHAIN) - {"report_cost"}, "every step that touches the forge (the gate: a timeout)"


def test_an_ado_tenant_with_a_pipeline_runs_it_before_review_and_reads_votes_at_the_gate(
        db: psycopg.Connection) -> None:
    insert(db, [make_ticket(121, ChangeKind.DEPENDENCY_BUMP, RiskClass.R2, tenant="contoso")])
    db.execute("UPDATE ticketpilot.tenants SET scm_kind = 'ado', ado_pipeline_id = 7 WHERE tenant_id = 'contoso'")
    dag = build_all(only_dag_id="ticket__contoso__121")["ticket__contoso__121"]
    order = [t.task_id for t in sorted(dag.tasks, key=lambda t: len(t.get_flat_relatives(upstream=True)))]
    assert order == ["po_refine", "dev_change", "pipeline_yaml", "test_fix_loop", "ci_queue", "ci_wait", "review",
                     "final_check", "gate", "merge", "docs", "report_cost"]
    queue, wait, gate = dag.get_task("ci_queue"), dag.get_task("ci_wait"), dag.get_task("gate")
    assert (queue.pipeline_id, queue.azure_devops_conn_id) == (7, "ado_contoso")
    assert (wait.pipeline_id, wait.azure_devops_conn_id) == (7, "ado_contoso")
    assert wait.run_id == "{{ ti.xcom_pull(task_ids='ci_queue')['run_id'] }}"
    assert gate.azure_devops_conn_id == "ado_contoso" and gate.named_approvers == ["alice"]


def test_a_local_tenant_has_no_ci_tasks_and_its_gate_reads_no_ado_votes(dagbag: DagBag) -> None:
    dag = dagbag.dags["ticket__demo__103"]
    assert not {"ci_queue", "ci_wait"} & set(dag.task_ids)
    assert dag.get_task("gate").azure_devops_conn_id is None


def test_the_runs_page_shows_where_the_team_filed_the_ticket() -> None:
    """An ops person reads the board context on the DAG's page: severity, parent, area and iteration."""
    from include.dagfactory import _doc_md

    base = {"tenant": "demo", "workitem_id": 7, "rev": 1, "title": "Totals wrong", "repo": "shop",
            "change_kind": ChangeKind.FEATURE, "risk_class": RiskClass.R1, "work_item_type": "Bug"}
    doc = _doc_md(Ticket(**base, severity="2 - High", parent_id=297, area_path="Shop\\Billing",
                         iteration_path="Shop\\Sprint 9"))
    assert "Bug · severity 2 - High · parent #297 · area `Shop\\Billing` · iteration `Shop\\Sprint 9`" in doc
    assert "severity" not in _doc_md(Ticket(**base)), "nothing shown where the tracker sent nothing"
