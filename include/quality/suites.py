"""Data-quality suites on the platform's own data, validated by Great Expectations inside PostgreSQL.

Each suite is a query and the expectations its rows must meet; the query runs in the database (a Great
Expectations SQL query asset), so a million ledger rows are checked without leaving the server. The sets the
expectations compare against (tenants, priced models) are read from the same database at validation time.

- `cost_ledger`: every tenant's model calls: no negative cost or tokens, a known status, the row's tenant is the
  tenant whose ledger holds it (a row in the wrong ledger is a leak between tenants) and a tenant that exists.
- `priced_models`: every call that cost money names a model with a price (`ticketpilot.model_prices`).
- `audit_chain`: each row's `prev_hash` is the previous row's hash (no row removed or inserted in the middle),
  hashes are well-formed and unique. `include.store.audit.verify` recomputes the hashes themselves.
- `ticket_store`: tickets belong to existing tenants and are closed exactly when they have a close time; no
  delivery waits for dispatch beyond `DISPATCH_BUDGET` (paused tenants' held deliveries aside) and no gate waits
  beyond the gate's own timeout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from sensors.gate import DEFAULT_GATE_TIMEOUT

DISPATCH_BUDGET_S = 15 * 60
"""A delivery not dispatched within 15 minutes is stuck (the spawner's p95 is seconds; see bench/RESULTS.md)."""
GENESIS = "0" * 64


@dataclass(frozen=True)
class Expect:
    """One Great Expectations expectation by its class name in `great_expectations.expectations`, with its
    arguments; `value_set` may be a function of the connection, read when the suite runs."""

    kind: str
    args: dict[str, Any]
    value_set: Callable[[psycopg.Connection], list[Any]] | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    describe: str
    query: Callable[[psycopg.Connection], sql.Composable]
    expectations: tuple[Expect, ...]
    ids: tuple[str, ...]
    """Columns that name a failing row in the findings (a row id, a ticket key)."""


def _ledger_calls(conn: psycopg.Connection, columns: str, where: str = "") -> sql.Composable:
    schemas = conn.execute("SELECT tenant_id, schema_name FROM ticketpilot.tenant_schemas ORDER BY 1").fetchall()
    parts = [sql.SQL("SELECT {} AS ledger_tenant, " + columns + " FROM {}.calls" + where).format(
        sql.Literal(s["tenant_id"]), sql.Identifier(s["schema_name"])) for s in schemas]
    if not parts:  # no ledger yet: an empty set of the same shape
        return sql.SQL("SELECT NULL::text AS ledger_tenant, " + columns + " FROM (SELECT NULL::bigint AS id, "
                       "NULL::text AS tenant, NULL::text AS provider, NULL::text AS model, NULL::text AS status, "
                       "NULL::numeric AS cost_usd, NULL::int AS tokens_in, NULL::int AS tokens_out) c WHERE false")
    return sql.SQL(" UNION ALL ").join(parts)


def _tenants(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT tenant_id FROM ticketpilot.tenants").fetchall()
    # the nightly evals book their calls in a ledger of their own that takes no hooks
    return sorted({r["tenant_id"] for r in rows} | {os.environ.get("TICKETPILOT_EVAL_TENANT", "evals")})


def _priced(conn: psycopg.Connection) -> list[str]:
    return [r["model"] for r in conn.execute("SELECT DISTINCT model FROM ticketpilot.model_prices").fetchall()]


SUITES: tuple[Suite, ...] = (
    Suite("cost_ledger", "every tenant's model calls",
          lambda conn: _ledger_calls(conn, "id, tenant, status, cost_usd, tokens_in, tokens_out"),
          (Expect("ExpectColumnValuesToBeBetween", {"column": "cost_usd", "min_value": 0}),
           Expect("ExpectColumnValuesToBeBetween", {"column": "tokens_in", "min_value": 0}),
           Expect("ExpectColumnValuesToBeBetween", {"column": "tokens_out", "min_value": 0}),
           Expect("ExpectColumnValuesToBeInSet", {"column": "status", "value_set": ["ok", "error"]}),
           Expect("ExpectColumnPairValuesToBeEqual", {"column_A": "tenant", "column_B": "ledger_tenant"}),
           Expect("ExpectColumnValuesToBeInSet", {"column": "tenant"}, value_set=_tenants)),
          ids=("ledger_tenant", "id")),
    Suite("priced_models", "calls that cost money",
          lambda conn: sql.SQL("SELECT ledger_tenant, id, provider || ':' || model AS model FROM ({}) c").format(
              _ledger_calls(conn, "id, provider, model", " WHERE cost_usd > 0")),
          (Expect("ExpectColumnValuesToBeInSet", {"column": "model"}, value_set=_priced),),
          ids=("ledger_tenant", "id")),
    Suite("audit_chain", "the audit log's hash chain",
          lambda conn: sql.SQL("SELECT id, prev_hash, hash, "
                               "coalesce(lag(hash) OVER (PARTITION BY chain ORDER BY seq, id), {}) AS chain_prev "
                               "FROM ticketpilot.audit_log").format(sql.Literal(GENESIS)),
          (Expect("ExpectColumnPairValuesToBeEqual", {"column_A": "prev_hash", "column_B": "chain_prev"}),
           Expect("ExpectColumnValuesToMatchRegex", {"column": "hash", "regex": "^[0-9a-f]{64}$"}),
           Expect("ExpectColumnValuesToBeUnique", {"column": "hash"})),
          ids=("id",)),
    Suite("ticket_store", "tickets, deliveries waiting for dispatch, gates waiting for a decision",
          lambda conn: sql.SQL(
              "SELECT 'ticket' AS kind, t.ticket_key AS subject, t.tenant_id, "
              "(t.state = 'closed') = (t.closed_at IS NOT NULL) AS consistent, 0::float AS waiting_s, 0::float AS "
              "budget_s FROM ticketpilot.tickets t "
              "UNION ALL SELECT 'dispatch', o.ticket_key, te.tenant_id, true, "
              "extract(epoch FROM now() - o.accepted_at), {} FROM ticketpilot.outbox o "
              "JOIN ticketpilot.tickets t USING (ticket_key) JOIN ticketpilot.tenants te USING (tenant_id) "
              "WHERE o.processed_at IS NULL AND te.paused_at IS NULL "
              "UNION ALL SELECT 'gate', g.ticket_key, t.tenant_id, true, extract(epoch FROM now() - g.requested_at), "
              "{} FROM ticketpilot.gate_requests g JOIN ticketpilot.tickets t USING (ticket_key) "
              "WHERE g.status = 'pending'").format(sql.Literal(float(DISPATCH_BUDGET_S)),
                                                   sql.Literal(DEFAULT_GATE_TIMEOUT.total_seconds())),
          (Expect("ExpectColumnValuesToBeInSet", {"column": "tenant_id"}, value_set=_tenants),
           Expect("ExpectColumnValuesToBeInSet", {"column": "consistent", "value_set": [True]}),
           Expect("ExpectColumnPairValuesAToBeGreaterThanB", {"column_A": "budget_s", "column_B": "waiting_s",
                                                              "or_equal": True})),
          ids=("kind", "subject")),
)
