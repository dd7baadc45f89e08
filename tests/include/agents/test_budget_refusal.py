"""A budget at 100 % stops the ticket: the router's refusal is not swallowed by any role, the step exits 3
(refused, no retry) with one line naming the budget, what it spent, its limit and the currency, and the
refused call leaves no ledger row. Prices and budgets go through model_serving.router.ledger on the test
PostgreSQL; the answers that cost money come from the scripted LLM emulator."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest

from include.agents import dev, po, review
from include.agents.errors import BudgetRefusedError
from include.agents.llm import MODEL_ENV
from include.contracts import AgentRole, AgentTask, Ticket
from include.demo.repo import DEMO_REPO
from include.runners.local import AgentReportedFailure, run_agent
from include.scm.local import LocalForge
from model_serving.router.ledger import calls, set_budget, set_price
from tests.include.agents.conftest import ScriptedLlm

MakeTicket = Callable[..., Ticket]
RunAgent = Callable[[AgentTask], "subprocess.CompletedProcess[str]"]
PRICED = "llamacpp:priced-emulated"
"""Its own model name, so the price set here cannot leak into other tests' calls."""
COST = Decimal("0.057")
"""One scripted answer: 50 tokens in and 7 out at 1000 USD per million tokens each way."""
CRITERIA = {"criteria": ["Invoice totals subtract the discount before tax is added"]}


@pytest.fixture
def priced(scripted_llm: ScriptedLlm, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> ScriptedLlm:
    set_price(db, PRICED, 1000, 1000)
    monkeypatch.setenv(MODEL_ENV, PRICED)
    return scripted_llm


def task(ticket: Ticket, role: AgentRole, **upstream: dict[str, object]) -> AgentTask:
    return AgentTask(role=role, ticket=ticket, run_id="manual__budget", upstream=upstream)


def spend_once(model: ScriptedLlm, ticket: Ticket, db: psycopg.Connection) -> None:
    """One priced call (the PO's refinement), so the ledger holds exactly COST for this ticket."""
    model.say(CRITERIA)
    assert "1 refined by" in po.run(task(ticket, AgentRole.PO)).summary
    assert [row["cost_usd"] for row in calls(db, ticket.tenant)] == [COST]


def refusal(ticket: Ticket, step: str, scope: str, scope_key: str) -> re.Pattern[str]:
    """The exact message, with the router's estimate (it depends on the prompt's length) as a number."""
    tenant = ticket.tenant
    return re.compile(re.escape(
        f"Ticket {ticket.ticket_key}: the model budget refused the {step} call. The {scope} budget '{scope_key}' "
        f"of tenant '{tenant}' has spent 0.0570 USD of its 0.0570 USD limit (100.0%), and this call may cost up to "
    ) + r"\d+\.\d{4}" + re.escape(
        " USD. The ticket stops here without retrying; raise the limit with model_serving.router.ledger."
        f"set_budget(conn, '{tenant}', '{scope}', '{scope_key}', limit_usd=...) and rerun the step."
    ))


def test_a_ticket_budget_at_100_percent_fails_dev_for_good(
    priced: ScriptedLlm, tenant_forge: LocalForge, feature_ticket: Ticket, db: psycopg.Connection,
    agent_process: RunAgent,
) -> None:
    spend_once(priced, feature_ticket, db)
    set_budget(db, feature_ticket.tenant, "ticket", feature_ticket.ticket_key, COST)
    expected = refusal(feature_ticket, "dev.edits", "ticket", feature_ticket.ticket_key)

    with pytest.raises(BudgetRefusedError) as error:
        dev.run(task(feature_ticket, AgentRole.DEV))
    assert expected.fullmatch(str(error.value)), str(error.value)
    assert (error.value.refusal.spent, error.value.refusal.limit) == (COST, COST)

    proc = agent_process(task(feature_ticket, AgentRole.DEV))
    assert proc.returncode == 3, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ticketpilot dev: BudgetRefusedError: ") and "Traceback" not in proc.stderr
    assert expected.fullmatch(last.removeprefix("ticketpilot dev: BudgetRefusedError: ")), last

    with pytest.raises(AgentReportedFailure, match=r"agent 'dev' refused: ticketpilot dev: BudgetRefusedError: "):
        run_agent("dev", task(feature_ticket, AgentRole.DEV).model_dump_json())

    assert len(calls(db, feature_ticket.tenant)) == 1, "refused calls leave no ledger row"
    assert len(priced.bodies) == 1, "and never reach the provider"
    assert tenant_forge.head(DEMO_REPO, feature_ticket.branch) == tenant_forge.head(DEMO_REPO, "main")
    assert tenant_forge.find_pr(DEMO_REPO, feature_ticket.branch) is None


def test_a_tenant_budget_at_100_percent_is_not_swallowed_by_po_or_review(
    priced: ScriptedLlm, tenant_forge: LocalForge, demo_ticket: MakeTicket, db: psycopg.Connection
) -> None:
    bump, lint = demo_ticket(102, tenant=tenant_forge.tenant), demo_ticket(104, tenant=tenant_forge.tenant)
    spend_once(priced, bump, db)
    set_budget(db, bump.tenant, "tenant", bump.tenant, COST)
    with pytest.raises(BudgetRefusedError) as refused_po:
        po.run(task(lint, AgentRole.PO))
    assert refusal(lint, "po.refine", "tenant", lint.tenant).fullmatch(str(refused_po.value)), str(refused_po.value)

    made = dev.run(task(bump, AgentRole.DEV))  # a playbook ticket: Dev asks no model
    with pytest.raises(BudgetRefusedError) as refused_review:
        review.run(task(bump, AgentRole.REVIEW, dev=made.model_dump(mode="json")))
    assert refusal(bump, "review.summary", "tenant", bump.tenant).fullmatch(str(refused_review.value))
    assert (tenant_forge.comments(made.pr_id), tenant_forge.statuses(made.pr_id)) == ([], {}), \
        "the review stopped before writing anything"
    assert len(calls(db, bump.tenant)) == 1
