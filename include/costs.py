"""What the model router booked for a ticket, read from the tenant's ledger (one query)."""

from __future__ import annotations

from decimal import Decimal

from psycopg import sql
from pydantic import BaseModel

from include.contracts import Ticket
from include.store.db import connect


class TicketCost(BaseModel):
    ticket_key: str
    calls: int = 0
    failed_calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    by_step: dict[str, Decimal] = {}

    def line(self) -> str:
        steps = ", ".join(f"{step or 'unnamed'} ${cost:.4f}" for step, cost in sorted(self.by_step.items()))
        return (f"{self.ticket_key}: ${self.cost_usd:.4f} over {self.calls} model call(s) "
                f"({self.failed_calls} failed, {self.cache_hits} from cache; {self.tokens_in} tokens in, "
                f"{self.tokens_out} out)" + (f"; by step: {steps}" if steps else ""))


def ticket_cost(ticket: Ticket) -> TicketCost:
    """Zero when the tenant never called a model (it has no ledger schema yet)."""
    with connect(autocommit=True) as conn:
        row = conn.execute("SELECT schema_name FROM ticketpilot.tenant_schemas WHERE tenant_id = %s",
                           (ticket.tenant,)).fetchone()
        if row is None:
            return TicketCost(ticket_key=ticket.ticket_key)
        rows = conn.execute(
            sql.SQL("SELECT step, count(*) AS calls, count(*) FILTER (WHERE status = 'error') AS failed, "
                    "count(*) FILTER (WHERE cache_hit) AS hits, sum(tokens_in) AS tin, sum(tokens_out) AS tout, "
                    "sum(cost_usd) AS cost FROM {}.calls WHERE ticket_key = %s GROUP BY step")
            .format(sql.Identifier(row["schema_name"])), (ticket.ticket_key,)).fetchall()
    return TicketCost(
        ticket_key=ticket.ticket_key,
        calls=sum(r["calls"] for r in rows),
        failed_calls=sum(r["failed"] for r in rows),
        cache_hits=sum(r["hits"] for r in rows),
        tokens_in=sum(int(r["tin"] or 0) for r in rows),
        tokens_out=sum(int(r["tout"] or 0) for r in rows),
        cost_usd=sum((Decimal(r["cost"] or 0) for r in rows), Decimal(0)),
        by_step={r["step"]: Decimal(r["cost"] or 0) for r in rows},
    )
