"""The ticket store: the ingress write path and the DAG factory's read path.

`accept_delivery` is the only durable step between ADO and the spawner. It runs as one transaction so a
delivery is either fully recorded (dedupe row, ticket, outbox row, notification) or not at all, and ADO's
retry can safely repeat it. The spawner learns about work from the outbox; NOTIFY only wakes it early.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from include.contracts.ticket import Ticket, TicketState
from include.tickets.ado import AdoDelivery

OUTBOX_CHANNEL = "ticketpilot_outbox"
"""NOTIFY channel; the payload is the new outbox row's id."""


class Accepted(BaseModel):
    """What the hook answers: which ticket/DAG the delivery feeds and whether it had been seen before."""

    model_config = ConfigDict(frozen=True)

    ticket_key: str
    dag_id: str
    duplicate: bool
    rev: int


def accept_delivery(conn: psycopg.Connection, delivery: AdoDelivery) -> Accepted:
    """Record a delivery exactly once; create or advance its ticket; queue a spawn for a new open ticket."""
    ticket = delivery.ticket
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        duplicate = cur.execute(
            "INSERT INTO ticketpilot.deliveries (tenant_id, event_id, rev, ticket_key, event_type) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING ticket_key",
            (ticket.tenant, delivery.event_id, delivery.rev, ticket.ticket_key, delivery.event_type),
        ).fetchone() is None
        if duplicate:
            stored = cur.execute(
                "SELECT d.ticket_key, t.dag_id, d.rev FROM ticketpilot.deliveries d "
                "JOIN ticketpilot.tickets t USING (ticket_key) "
                "WHERE d.tenant_id = %s AND d.event_id = %s AND d.rev = %s",
                (ticket.tenant, delivery.event_id, delivery.rev),
            ).fetchone()
            return Accepted(ticket_key=stored["ticket_key"], dag_id=stored["dag_id"], duplicate=True,
                            rev=stored["rev"])

        closed = ticket.state is TicketState.CLOSED
        # The WHERE makes the upsert monotonic: ADO may deliver revisions out of order, the newest wins.
        written = cur.execute(
            "INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, state, ticket, "
            "closed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) "
            "ON CONFLICT (ticket_key) DO UPDATE SET rev = EXCLUDED.rev, state = EXCLUDED.state, "
            "ticket = EXCLUDED.ticket, updated_at = now(), "
            "closed_at = CASE WHEN EXCLUDED.state = 'closed' THEN COALESCE(tickets.closed_at, now()) END "
            "WHERE tickets.rev < EXCLUDED.rev "
            "RETURNING (xmax = 0) AS inserted",
            (ticket.ticket_key, ticket.tenant, ticket.workitem_id, ticket.rev, ticket.dag_id, ticket.state.value,
             Jsonb(ticket.model_dump(mode="json")), closed),
        ).fetchone()
        if written is not None and written["inserted"] and not closed:
            queued = cur.execute(
                "INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, kind) VALUES (%s, %s, %s, 'spawn') "
                "ON CONFLICT DO NOTHING RETURNING id",
                (ticket.ticket_key, ticket.dag_id, ticket.rev),
            ).fetchone()
            if queued is not None:
                cur.execute("SELECT pg_notify(%s, %s)", (OUTBOX_CHANNEL, str(queued["id"])))
    return Accepted(ticket_key=ticket.ticket_key, dag_id=ticket.dag_id, duplicate=False, rev=delivery.rev)


def load_open_tickets(conn: psycopg.Connection, retention_hours: int = 24) -> list[Ticket]:
    """Every ticket the DAG factory should render: open ones, and closed ones still inside the retention
    window (so their last runs stay browsable). One indexed query: the factory parses often."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT ticket FROM ticketpilot.tickets "
            "WHERE state = 'open' OR closed_at > now() - make_interval(hours => %s) ORDER BY ticket_key",
            (retention_hours,),
        ).fetchall()
    return [Ticket.model_validate(row["ticket"]) for row in rows]


def get_ticket(conn: psycopg.Connection, ticket_key: str) -> Ticket | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT ticket FROM ticketpilot.tickets WHERE ticket_key = %s", (ticket_key,)).fetchone()
    return Ticket.model_validate(row["ticket"]) if row else None
