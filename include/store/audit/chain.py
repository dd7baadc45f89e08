"""Appending to the audit log: one hash chain per tenant, one round trip per row.

`ticketpilot.audit_append` (migration 0014) takes the chain's advisory lock until the caller's transaction ends,
reads the head, hashes and inserts, as a role that may only INSERT. Tenants write to their own chains, so one
tenant's busy hour does not queue another's gate decisions; platform-wide actions go to `_platform`.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

PLATFORM_CHAIN = "_platform"
LEGACY_CHAIN = "_legacy"


def chain_of(tenant: str | None) -> str:
    return tenant or PLATFORM_CHAIN


def append(conn: psycopg.Connection, *, actor: str, action: str, subject: str, details: dict[str, Any],
           tenant: str | None = None) -> str:
    """Append one row inside the caller's transaction, to the tenant's chain (or `_platform`); returns its hash."""
    row = conn.execute("SELECT ticketpilot.audit_append(%s, %s, %s, %s, %s::jsonb) AS hash",
                       (chain_of(tenant), actor, action, subject, json.dumps(details, default=str))).fetchone()
    return row["hash"] if isinstance(row, dict) else row[0]


def append_for_ticket(conn: psycopg.Connection, ticket_key: str, *, actor: str, action: str,
                      details: dict[str, Any]) -> str:
    """Append about a ticket to its tenant's chain, the tenant read in the same round trip (`_platform` for a
    key the store does not know)."""
    row = conn.execute(
        "SELECT ticketpilot.audit_append(coalesce((SELECT tenant_id FROM ticketpilot.tickets WHERE ticket_key = %s),"
        " %s), %s, %s, %s, %s::jsonb) AS hash",
        (ticket_key, PLATFORM_CHAIN, actor, action, ticket_key, json.dumps(details, default=str))).fetchone()
    return row["hash"] if isinstance(row, dict) else row[0]
