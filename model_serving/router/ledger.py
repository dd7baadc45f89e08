"""Cost ledger, prices, budgets and router events in PostgreSQL.

Schema per tenant, not a platform table with a tenant column and row security. DESIGN §5 asks for it, and it
holds up on its own: a tenant's ledger is exported, handed over or erased as one schema (`pg_dump -n`,
`DROP SCHEMA ... CASCADE`); grants can be per schema; and no query can forget its `WHERE tenant = ...`.
Row security was the alternative, but PostgreSQL skips it for table owners and superusers, which is exactly
the role the embedded pgserver database runs as, so it would protect nothing there. The cost is DDL per tenant
(`ensure_tenant_schema`, idempotent, called by the router on a tenant's first call) and migrations that loop
over `ticketpilot.tenant_schemas`. Prices are public list prices and stay in the platform schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from model_serving.router.errors import BudgetExceeded
from model_serving.router.models import CallContext, ChatMessage

BudgetScope = Literal["tenant", "repo", "ticket"]
THRESHOLDS = (80, 90, 100)
_MILLION = Decimal(1_000_000)


def tenant_schema(tenant: str) -> str:
    """Tenant ids allow '-' but never '_', so this mapping cannot collide."""
    return "tenant_" + tenant.replace("-", "_")


def table(tenant: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(tenant_schema(tenant)), sql.Identifier(name))


def rows(conn: psycopg.Connection, query: sql.Composable | str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def ensure_tenant_schema(conn: psycopg.Connection, tenant: str) -> str:
    """Create the tenant's ledger schema and tables if missing (SQL lives in migration 0002); returns its name."""
    return rows(conn, "SELECT ticketpilot.ensure_tenant_ledger(%s) AS name", (tenant,))[0]["name"]


@dataclass(frozen=True)
class Price:
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal

    def cost(self, tokens_in: int, tokens_out: int) -> Decimal:
        return (tokens_in * self.input_usd_per_mtok + tokens_out * self.output_usd_per_mtok) / _MILLION


FREE = Price(Decimal(0), Decimal(0))


def set_price(conn: psycopg.Connection, model: str, input_usd_per_mtok: Decimal | float,
              output_usd_per_mtok: Decimal | float, valid_from: datetime | None = None) -> None:
    """Add a price version; earlier calls keep the price that was valid when they were made."""
    conn.execute(
        "INSERT INTO ticketpilot.model_prices (model, valid_from, input_usd_per_mtok, output_usd_per_mtok) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (model, valid_from) DO UPDATE SET "
        "input_usd_per_mtok = EXCLUDED.input_usd_per_mtok, output_usd_per_mtok = EXCLUDED.output_usd_per_mtok",
        (model, valid_from or datetime.now(UTC), Decimal(str(input_usd_per_mtok)), Decimal(str(output_usd_per_mtok))),
    )


def price_at(conn: psycopg.Connection, model: str, at: datetime | None = None) -> Price | None:
    found = rows(conn, "SELECT input_usd_per_mtok, output_usd_per_mtok FROM ticketpilot.model_prices "
                       "WHERE model = %s AND valid_from <= %s ORDER BY valid_from DESC LIMIT 1",
                 (model, at or datetime.now(UTC)))
    return Price(found[0]["input_usd_per_mtok"], found[0]["output_usd_per_mtok"]) if found else None


def estimate_tokens(messages: list[ChatMessage]) -> int:
    """About four characters a token plus a few per message: generous on purpose, it only gates admission."""
    return sum(len(m.content) for m in messages) // 3 + 4 * len(messages)


@dataclass(frozen=True)
class CallRecord:
    context: CallContext
    provider: str
    model: str
    status: Literal["ok", "error"]
    idempotency_key: str | None = None
    error: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: int = 0
    cache_hit: bool = False
    injection_findings: tuple[dict[str, Any], ...] = ()


def record_call(conn: psycopg.Connection, record: CallRecord) -> bool:
    """Write one ledger row and its audit row (metadata only: no prompt, answer or error text) in one statement;
    False when a row with the same idempotency key exists (a retried step), which is audited once."""
    ctx = record.context
    query = sql.SQL(
        "WITH call AS (INSERT INTO {} (idempotency_key, tenant, repo, ticket_key, step, prompt_version, provider, "
        "model, status, error, tokens_in, tokens_out, cost_usd, latency_ms, cache_hit, injection_findings) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id) "
        "SELECT ticketpilot.audit_append(%s, %s, 'model.call', %s, %s::jsonb || jsonb_build_object('ledger_id', id))"
        " FROM call"
    ).format(table(ctx.tenant, "calls"))
    audited = {"provider": record.provider, "model": record.model, "status": record.status, "step": ctx.step,
               "repo": ctx.repo, "prompt_version": ctx.prompt_version, "tokens_in": record.tokens_in,
               "tokens_out": record.tokens_out, "cost_usd": str(record.cost_usd), "latency_ms": record.latency_ms,
               "cache_hit": record.cache_hit, "idempotency_key": record.idempotency_key,
               "injection_findings": len(record.injection_findings)}
    cur = conn.execute(query, (
        record.idempotency_key, ctx.tenant, ctx.repo, ctx.ticket_key, ctx.step, ctx.prompt_version, record.provider,
        record.model, record.status, record.error[:2000], record.tokens_in, record.tokens_out, record.cost_usd,
        record.latency_ms, record.cache_hit, json.dumps(list(record.injection_findings)),
        ctx.tenant, f"agent-{ctx.step}" if ctx.step else "model-router", ctx.ticket_key or ctx.repo or ctx.tenant,
        json.dumps(audited),
    ))
    return cur.rowcount == 1


def calls(conn: psycopg.Connection, tenant: str) -> list[dict[str, Any]]:
    return rows(conn, sql.SQL("SELECT * FROM {} ORDER BY id").format(table(tenant, "calls")))


def set_budget(conn: psycopg.Connection, tenant: str, scope: BudgetScope, scope_key: str,
               limit_usd: Decimal | float, period: Literal["total", "month"] = "total") -> None:
    """Create or change a budget. A new limit re-arms its 80/90/100% events, which are keyed by the limit."""
    ensure_tenant_schema(conn, tenant)
    conn.execute(sql.SQL(
        "INSERT INTO {} (scope, scope_key, limit_usd, period) VALUES (%s, %s, %s, %s) ON CONFLICT (scope, scope_key) "
        "DO UPDATE SET limit_usd = EXCLUDED.limit_usd, period = EXCLUDED.period, updated_at = now()"
    ).format(table(tenant, "budgets")), (scope, scope_key, Decimal(str(limit_usd)), period))


@dataclass(frozen=True)
class BudgetStatus:
    scope: BudgetScope
    scope_key: str
    limit_usd: Decimal
    spent_usd: Decimal
    period_start: datetime | None


def budget_status(conn: psycopg.Connection, ctx: CallContext) -> list[BudgetStatus]:
    """The budgets that apply to a call (tenant, its repo, its ticket) and what each has spent so far."""
    wanted = [("tenant", ctx.tenant), ("repo", ctx.repo), ("ticket", ctx.ticket_key)]
    column = {"tenant": None, "repo": "repo", "ticket": "ticket_key"}
    found = []
    for budget in rows(conn, sql.SQL("SELECT scope, scope_key, limit_usd, period FROM {}").format(
            table(ctx.tenant, "budgets"))):
        if (budget["scope"], budget["scope_key"]) not in wanted or not budget["scope_key"]:
            continue
        since = _month_start() if budget["period"] == "month" else None
        where = [sql.SQL("status = 'ok'"), sql.SQL("created_at >= %s")]
        params: list[Any] = [since or datetime.min.replace(tzinfo=UTC)]
        if column[budget["scope"]]:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column[budget["scope"]])))
            params.append(budget["scope_key"])
        spent = rows(conn, sql.SQL("SELECT coalesce(sum(cost_usd), 0) AS spent FROM {} WHERE {}").format(
            table(ctx.tenant, "calls"), sql.SQL(" AND ").join(where)), tuple(params))[0]["spent"]
        found.append(BudgetStatus(budget["scope"], budget["scope_key"], budget["limit_usd"], spent, since))
    return found


def admit(conn: psycopg.Connection, ctx: CallContext, estimate_usd: Decimal) -> None:
    """Refuse a call that could take any applicable budget past its limit.

    Two concurrent calls can both be admitted against the last few cents: the overshoot is bounded by one
    call's estimate per concurrent caller, which is cheaper than serialising every call on a lock.
    """
    for budget in budget_status(conn, ctx):
        if budget.spent_usd >= budget.limit_usd or budget.spent_usd + estimate_usd > budget.limit_usd:
            raise BudgetExceeded(ctx.tenant, budget.scope, budget.scope_key, budget.spent_usd, budget.limit_usd,
                                 estimate_usd)


def record_thresholds(conn: psycopg.Connection, ctx: CallContext) -> list[str]:
    """Record each crossed 80/90/100% threshold once per budget limit (and per month for monthly budgets)."""
    recorded = []
    for budget in budget_status(conn, ctx):
        used = budget.spent_usd / budget.limit_usd * 100
        for threshold in THRESHOLDS:
            if used < threshold:
                break
            period = budget.period_start.date().isoformat() if budget.period_start else "total"
            key = f"budget:{budget.scope}:{budget.scope_key}:{budget.limit_usd}:{period}:{threshold}"
            details = {"scope": budget.scope, "scope_key": budget.scope_key, "threshold": threshold,
                       "spent_usd": str(budget.spent_usd), "limit_usd": str(budget.limit_usd)}
            if record_event(conn, ctx.tenant, "budget.threshold", f"{budget.scope}:{budget.scope_key}", details, key):
                recorded.append(key)
    return recorded


def record_event(conn: psycopg.Connection, tenant: str, kind: str, subject: str, details: dict[str, Any],
                 dedupe_key: str | None = None) -> bool:
    """Append a router event; with a dedupe key, only the first of equal events is kept."""
    cur = conn.execute(sql.SQL(
        "INSERT INTO {} (kind, subject, details, dedupe_key) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (dedupe_key) DO NOTHING"
    ).format(table(tenant, "events")), (kind, subject, json.dumps(details, default=str), dedupe_key))
    return cur.rowcount == 1


def events(conn: psycopg.Connection, tenant: str, kind: str | None = None) -> list[dict[str, Any]]:
    query = sql.SQL("SELECT kind, subject, details, created_at FROM {} WHERE %s::text IS NULL OR kind = %s "
                    "ORDER BY id").format(table(tenant, "events"))
    return rows(conn, query, (kind, kind))


@dataclass(frozen=True)
class ModelStats:
    calls: int
    errors: int
    p95_latency_ms: float
    avg_cost_usd: Decimal

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


def model_stats(conn: psycopg.Connection, tenant: str, spec: str, window: int) -> ModelStats:
    """Error rate, p95 latency and mean cost of the model's last `window` calls (cache hits excluded)."""
    provider, _, model = spec.partition(":")
    found = rows(conn, sql.SQL(
        "SELECT count(*) AS calls, count(*) FILTER (WHERE status = 'error') AS errors, "
        "coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms), 0) AS p95, "
        "coalesce(avg(cost_usd) FILTER (WHERE status = 'ok'), 0) AS avg_cost "
        "FROM (SELECT status, latency_ms, cost_usd FROM {} WHERE provider = %s AND model = %s AND NOT cache_hit "
        "ORDER BY id DESC LIMIT %s) recent"
    ).format(table(tenant, "calls")), (provider, model, window))[0]
    return ModelStats(found["calls"], found["errors"], float(found["p95"]), Decimal(found["avg_cost"]))


def _month_start() -> datetime:
    now = datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
