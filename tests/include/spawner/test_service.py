"""The spawner's claim query against the real database: what each pending row carries into the plans."""

from __future__ import annotations

import psycopg

from include.airflow_client import AirflowClient
from include.spawner.service import MAX_ATTEMPTS, Spawner
from include.store.tenants import create_tenant


def test_pending_rows_carry_their_kind_and_whether_the_ticket_is_open(db: psycopg.Connection) -> None:
    create_tenant(db, "acme", "ado-acme", "s", "web", [])
    for key, state in (("acme-1", "open"), ("acme-2", "closed")):
        db.execute("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, state, ticket) "
                   "VALUES (%s, 'acme', %s, 2, %s, %s, '{}')", (key, int(key[-1]), f"ticket__acme__{key[-1]}", state))
    db.execute("INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, kind, attempts) VALUES "
               "('acme-1', 'ticket__acme__1', 2, 'replan', 0), ('acme-2', 'ticket__acme__2', 2, 'cancel', 0), "
               "('acme-3', 'ticket__acme__3', 1, 'spawn', 0), ('acme-1', 'ticket__acme__1', 1, 'spawn', %s)",
               (MAX_ATTEMPTS,))
    with AirflowClient("http://127.0.0.1:9", "unused", "unused") as client, db.transaction():
        rows = Spawner(airflow=client).pending(db)
    assert [(r["ticket_key"], r["kind"], r["ticket_open"]) for r in rows] == [
        ("acme-1", "replan", True), ("acme-2", "cancel", False), ("acme-3", "spawn", False)]
