"""After the merge: the work item report goes only to forges with a board, and its cost is the ledger's."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from include import merge_step
from include.contracts import ChangeKind, RiskClass, Ticket
from include.costs import ticket_cost
from include.scm.local import LocalForge

TICKET = Ticket(tenant="ledgered", workitem_id=7, rev=1, title="Fix lint", repo="svc",
                change_kind=ChangeKind.LINT_FIX, risk_class=RiskClass.R0)
MERGED = {"pr_id": 12, "merge_commit": "abc123", "risk_class": "R0", "pr_url": "http://ado/pr/12"}


class BoardForge:
    """An adapter whose forge has a board: records what it was asked to resolve."""

    tenant = "ledgered"

    def __init__(self) -> None:
        self.resolved: list[tuple[int, str]] = []

    def resolve_work_item(self, workitem_id: int, comment: str) -> None:
        self.resolved.append((workitem_id, comment))


def book(db: psycopg.Connection, ticket_key: str, cost: str) -> None:
    schema = db.execute("SELECT ticketpilot.ensure_tenant_ledger('ledgered') AS s").fetchone()["s"]
    db.execute(f"INSERT INTO {schema}.calls (tenant, ticket_key, provider, model, status, cost_usd) "
               "VALUES ('ledgered', %s, 'openai', 'gpt-4o-mini', 'ok', %s)", (ticket_key, cost))


def test_cost_is_the_ledger_total_of_the_ticket(db: psycopg.Connection) -> None:
    assert ticket_cost(TICKET.model_copy(update={"tenant": "no-ledger"})).cost_usd == 0
    book(db, TICKET.ticket_key, "0.0125")
    book(db, TICKET.ticket_key, "0.0100")
    book(db, "ledgered-8", "5")
    cost = ticket_cost(TICKET)
    assert (cost.cost_usd, cost.calls) == (Decimal("0.0225"), 2)
    assert "$0.0225 over 2 model call(s)" in cost.line()


def test_a_forge_with_a_board_gets_the_summary(db: psycopg.Connection) -> None:
    forge = BoardForge()
    comment = merge_step.report_to_work_item(forge, TICKET, MERGED, ["alice"])  # type: ignore[arg-type]
    assert forge.resolved == [(7, comment)]
    assert comment is not None
    for part in ('<a href="http://ado/pr/12">PR 12</a>', "<code>abc123</code>", "Risk class: R0", "Approvals: alice",
                 "Model cost: $"):
        assert part in comment


def test_the_local_forge_has_no_board_and_gets_nothing(db: psycopg.Connection, forge_dir: object) -> None:
    assert merge_step.report_to_work_item(LocalForge.from_settings("ledgered"), TICKET, MERGED, []) is None
