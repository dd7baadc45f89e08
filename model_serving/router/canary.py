"""Canary routing: a fixed share of tickets tries a candidate model until it breaches the policy's limits.

The share is drawn from a hash of the ticket key, not at random, so every call of one ticket sees the same
model and a ticket's steps stay comparable. A breach disables the canary for the tenant (recorded as an event);
re-enabling is a deliberate act: `enable(conn, tenant, model)`.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

from model_serving.router.ledger import model_stats, record_event, rows, table
from model_serving.router.models import CanaryPolicy


def in_canary(ticket_key: str, share: float) -> bool:
    bucket = int(hashlib.sha256(ticket_key.encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return bucket < share


def is_disabled(conn: psycopg.Connection, tenant: str, model: str) -> bool:
    return bool(rows(conn, sql.SQL("SELECT 1 FROM {} WHERE model = %s").format(table(tenant, "canary_state")),
                     (model,)))


def enable(conn: psycopg.Connection, tenant: str, model: str) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE model = %s").format(table(tenant, "canary_state")), (model,))


def evaluate(conn: psycopg.Connection, tenant: str, canary: CanaryPolicy) -> str | None:
    """Disable the canary if its recent calls breach a limit; returns the reason when it did."""
    stats = model_stats(conn, tenant, canary.model, canary.window_calls)
    if stats.calls < canary.min_calls:
        return None
    breaches = []
    if stats.error_rate > canary.max_error_rate:
        breaches.append(f"error rate {stats.error_rate:.0%} > {canary.max_error_rate:.0%}")
    if stats.p95_latency_ms > canary.max_p95_latency_ms:
        breaches.append(f"p95 latency {stats.p95_latency_ms:.0f} ms > {canary.max_p95_latency_ms} ms")
    if stats.avg_cost_usd > canary.max_cost_per_call:
        breaches.append(f"cost per call ${stats.avg_cost_usd:.4f} > ${canary.max_cost_per_call}")
    if not breaches:
        return None
    reason = "; ".join(breaches) + f" over the last {stats.calls} calls"
    inserted = conn.execute(sql.SQL(
        "INSERT INTO {} (model, reason) VALUES (%s, %s) ON CONFLICT (model) DO NOTHING"
    ).format(table(tenant, "canary_state")), (canary.model, reason)).rowcount
    if inserted:
        record_event(conn, tenant, "canary.rollback", canary.model,
                     {"reason": reason, "calls": stats.calls, "error_rate": stats.error_rate,
                      "p95_latency_ms": stats.p95_latency_ms, "avg_cost_usd": str(stats.avg_cost_usd)})
    return reason
