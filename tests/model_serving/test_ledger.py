from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from model_serving.router import CallContext, ledger

CTX_FIELDS = {"repo": "shop", "ticket_key": "acme-7", "step": "dev"}


def spend(db: psycopg.Connection, ctx: CallContext, usd: str) -> None:
    ledger.record_call(db, ledger.CallRecord(ctx, "openai", "gpt-small", "ok", cost_usd=Decimal(usd)))


def test_tenant_schema_is_created_idempotently_and_registered(db: psycopg.Connection, tenant: str) -> None:
    name = ledger.ensure_tenant_schema(db, tenant)
    assert ledger.ensure_tenant_schema(db, tenant) == name == f"tenant_{tenant}"
    [row] = db.execute("SELECT schema_name, ledger_version FROM ticketpilot.tenant_schemas WHERE tenant_id = %s",
                       (tenant,)).fetchall()
    assert row == {"schema_name": name, "ledger_version": 2}


def test_dashed_tenant_ids_get_their_own_schema(db: psycopg.Connection) -> None:
    assert ledger.ensure_tenant_schema(db, "acme-eu") == "tenant_acme_eu"


def test_thresholds_80_90_100_are_recorded_once_each(db: psycopg.Connection, tenant: str) -> None:
    ctx = CallContext(tenant=tenant, **CTX_FIELDS)
    ledger.set_budget(db, tenant, "ticket", "acme-7", Decimal("1.00"))

    recorded = []
    for usd in ["0.50", "0.35", "0.00", "0.10", "0.05", "0.00"]:
        spend(db, ctx, usd)
        recorded.append(len(ledger.record_thresholds(db, ctx)))

    assert recorded == [0, 1, 0, 1, 1, 0]  # 50%, 85%, 85%, 95%, 100%, 100%
    thresholds = [e["details"]["threshold"] for e in ledger.events(db, tenant, "budget.threshold")]
    assert thresholds == [80, 90, 100]


def test_raising_a_limit_rearms_its_threshold_events(db: psycopg.Connection, tenant: str) -> None:
    ctx = CallContext(tenant=tenant, **CTX_FIELDS)
    ledger.set_budget(db, tenant, "tenant", tenant, Decimal("1.00"))
    spend(db, ctx, "0.85")
    assert len(ledger.record_thresholds(db, ctx)) == 1
    ledger.set_budget(db, tenant, "tenant", tenant, Decimal("1.05"))
    assert len(ledger.record_thresholds(db, ctx)) == 1  # 81% of the new limit: a new 80% event


def test_budgets_only_count_their_own_scope(db: psycopg.Connection, tenant: str) -> None:
    mine = CallContext(tenant=tenant, **CTX_FIELDS)
    other = CallContext(tenant=tenant, repo="billing", ticket_key="acme-8", step="dev")
    ledger.set_budget(db, tenant, "repo", "shop", Decimal("2"))
    ledger.set_budget(db, tenant, "ticket", "acme-7", Decimal("1"), period="month")
    spend(db, mine, "0.25")
    spend(db, other, "0.75")
    assert {(b.scope, b.spent_usd) for b in ledger.budget_status(db, mine)} == {
        ("repo", Decimal("0.25")), ("ticket", Decimal("0.25"))}
    assert ledger.budget_status(db, other) == []


def test_the_price_valid_at_call_time_applies(db: psycopg.Connection) -> None:
    model = "openai:price-versioned"
    ledger.set_price(db, model, 1, 2, valid_from=datetime(2024, 1, 1, tzinfo=UTC))
    ledger.set_price(db, model, 3, 4, valid_from=datetime(2025, 1, 1, tzinfo=UTC))
    assert ledger.price_at(db, model, datetime(2024, 6, 1, tzinfo=UTC)) == ledger.Price(Decimal(1), Decimal(2))
    assert ledger.price_at(db, model) == ledger.Price(Decimal(3), Decimal(4))
    assert ledger.price_at(db, model, datetime(2023, 1, 1, tzinfo=UTC)) is None
    assert ledger.Price(Decimal(3), Decimal(4)).cost(1_000_000, 500_000) == Decimal(5)


def test_idempotency_key_dedupes_rows(db: psycopg.Connection, tenant: str) -> None:
    ledger.ensure_tenant_schema(db, tenant)
    record = ledger.CallRecord(CallContext(tenant=tenant), "openai", "gpt-small", "ok", idempotency_key="k1")
    assert ledger.record_call(db, record) and not ledger.record_call(db, record)
    assert len(ledger.calls(db, tenant)) == 1


def test_each_call_is_audited_once_in_the_tenants_chain_without_its_text(db: psycopg.Connection,
                                                                         tenant: str) -> None:
    from include.store import audit

    ledger.ensure_tenant_schema(db, tenant)
    ctx = CallContext(tenant=tenant, **CTX_FIELDS)
    record = ledger.CallRecord(ctx, "openai", "gpt-small", "error", idempotency_key=f"{tenant}-call-1",
                               error="provider said: the secret prompt was ...", tokens_in=12)
    assert ledger.record_call(db, record) is True
    assert ledger.record_call(db, record) is False, "a retried step writes no second row"
    [row] = db.execute("SELECT actor, action, subject, details FROM ticketpilot.audit_log WHERE chain = %s "
                       "AND action = 'model.call'", (tenant,)).fetchall()
    assert (row["actor"], row["subject"]) == ("agent-dev", "acme-7")
    [call] = ledger.calls(db, tenant)
    assert row["details"]["ledger_id"] == call["id"]
    assert {k: row["details"][k] for k in ("provider", "model", "status", "tokens_in")} == {
        "provider": "openai", "model": "gpt-small", "status": "error", "tokens_in": 12}
    assert "secret" not in str(row["details"]), "metadata only: no prompt, answer or error text"
    assert audit.verify(db, tenant=tenant).ok
