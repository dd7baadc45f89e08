"""Tenants' model routing policies: data with a schema (RoutingPolicy), versioned and audited.

Setting the same policy again adds no version, so provisioning can run on every start."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.store import audit
from model_serving.router.models import RoutingPolicy


def set_policy(conn: psycopg.Connection, tenant: str, policy: RoutingPolicy, *, actor: str) -> int:
    """Make `policy` the tenant's; returns its version (the current one when nothing changed)."""
    data = policy.model_dump(mode="json")
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('routing:' || %s))", (tenant,))
        latest = cur.execute(
            "SELECT version, policy FROM ticketpilot.routing_policies WHERE tenant_id = %s "
            "ORDER BY version DESC LIMIT 1", (tenant,)).fetchone()
        if latest is not None and latest["policy"] == data:
            return int(latest["version"])
        version = (latest["version"] if latest else 0) + 1
        cur.execute("INSERT INTO ticketpilot.routing_policies (tenant_id, version, policy, set_by) "
                    "VALUES (%s, %s, %s, %s)", (tenant, version, Jsonb(data), actor))
        audit.append(conn, actor=actor, action="routing_policy.set", subject=tenant, tenant=tenant,
                     details={"version": version, "policy": data})
    return version


def get_policy(conn: psycopg.Connection, tenant: str) -> RoutingPolicy | None:
    """The tenant's current policy, or None when it has none (the configured model serves it alone)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT policy FROM ticketpilot.routing_policies WHERE tenant_id = %s "
                          "ORDER BY version DESC LIMIT 1", (tenant,)).fetchone()
    return RoutingPolicy.model_validate(row["policy"]) if row else None
