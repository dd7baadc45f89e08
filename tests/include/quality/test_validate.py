"""The data-quality suites with the real Great Expectations on the real PostgreSQL: a healthy platform passes
every suite; each kind of damage fails its suite with the expectation, the count and the row that is wrong: a
negative cost, a call booked in another tenant's ledger, a priced call on an unpriced model, an audit row taken
out of the chain, a delivery stuck before dispatch and a gate past its timeout."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from include.quality.validate import suite_named, validate, validate_all
from include.store import audit
from include.store.tenants import create_tenant
from model_serving.router import ledger
from model_serving.router.models import CallContext

PRICED = "qa-priced"
"""A model of these tests' own: the price they add must not change what another test finds priced."""


@pytest.fixture
def platform(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    for tenant in ("qa-one", "qa-two"):
        db.execute(f'DROP SCHEMA IF EXISTS "tenant_{tenant.replace("-", "_")}" CASCADE')
        db.execute("DELETE FROM ticketpilot.tenant_schemas WHERE tenant_id = %s", (tenant,))
        create_tenant(db, tenant, tenant, "s3cret-s3cret-s3cret", "app", [])
    others = db.execute("SELECT schema_name FROM ticketpilot.tenant_schemas").fetchall()
    for schema in others:  # ledgers of tenants other tests left behind: not this platform's
        db.execute(f'DROP SCHEMA "{schema["schema_name"]}" CASCADE')
    db.execute("DELETE FROM ticketpilot.tenant_schemas")
    for tenant in ("qa-one", "qa-two"):
        ledger.ensure_tenant_schema(db, tenant)
    ledger.set_price(db, f"openai:{PRICED}", 0.15, 0.6)
    book(db, "qa-one", "c1", "0.002")
    book(db, "qa-two", "c2", "0.001")
    book(db, "qa-two", "c3", "0", model="smollm2", provider="local")  # a free local model needs no price
    for i in range(3):
        with db.transaction():
            audit.append(db, actor="ops", action="test", subject=str(i), details={})
    db.execute("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, ticket) "
               "VALUES ('qa-one-1', 'qa-one', 1, 1, 'ticket__qa-one__1', '{}')")
    yield db
    db.execute("DELETE FROM ticketpilot.model_prices WHERE model = %s", (f"openai:{PRICED}",))


def book(db: psycopg.Connection, tenant: str, call: str, usd: str, *, model: str = PRICED,
         provider: str = "openai") -> None:
    ledger.record_call(db, ledger.CallRecord(context=CallContext(tenant=tenant), provider=provider, model=model,
                                             status="ok", idempotency_key=call, cost_usd=Decimal(usd),
                                             tokens_in=100, tokens_out=20))


def failed(db_url: str, suite: str) -> list[str]:
    return [f.line() for f in validate(db_url, suite_named(suite)).findings]


def test_a_healthy_platform_passes_every_suite(platform: psycopg.Connection, db_url: str) -> None:
    results = validate_all(db_url)
    assert [(r.suite, r.success) for r in results] == [("cost_ledger", True), ("priced_models", True),
                                                       ("audit_chain", True), ("ticket_store", True)]
    assert results[0].rows == 3 and results[2].rows == 6 and results[3].rows == 1  # 3 model calls, 3 other rows
    assert results[0].lines()[0].startswith("cost_ledger: passed, 6 expectations on 3 rows")


def test_a_platform_without_any_ledger_yet_passes(platform: psycopg.Connection, db_url: str) -> None:
    for schema in platform.execute("SELECT schema_name FROM ticketpilot.tenant_schemas").fetchall():
        platform.execute(f'DROP SCHEMA "{schema["schema_name"]}" CASCADE')
    platform.execute("DELETE FROM ticketpilot.tenant_schemas")
    ledger_result = validate(db_url, suite_named("cost_ledger"))
    assert ledger_result.success and ledger_result.rows == 0
    assert validate(db_url, suite_named("priced_models")).success


def test_a_negative_cost_and_a_call_in_another_tenant_s_ledger_fail_the_ledger(platform: psycopg.Connection,
                                                                               db_url: str) -> None:
    calls = ledger.table("qa-two", "calls")
    platform.execute(ledger.sql.SQL("UPDATE {} SET cost_usd = -0.5 WHERE idempotency_key = 'c2'").format(calls))
    platform.execute(ledger.sql.SQL("UPDATE {} SET tenant = 'qa-one' WHERE idempotency_key = 'c3'").format(calls))
    found = failed(db_url, "cost_ledger")
    assert found == ["expect_column_values_to_be_between(cost_usd): 1 row(s), e.g. ledger_tenant=qa-two, id=1, "
                     "cost_usd=-0.5",
                     "expect_column_pair_values_to_be_equal(tenant, ledger_tenant): 1 row(s), e.g. "
                     "ledger_tenant=qa-two, id=2, tenant=qa-one"]


def test_a_priced_call_on_a_model_without_a_price_fails(platform: psycopg.Connection, db_url: str) -> None:
    book(platform, "qa-one", "c4", "0.3", model="gpt-9-preview")
    assert failed(db_url, "priced_models") == [
        "expect_column_values_to_be_in_set(model): 1 row(s), e.g. ledger_tenant=qa-one, id=2, "
        "model=openai:gpt-9-preview"]


def test_an_audit_row_taken_out_of_the_chain_is_found_by_id(platform: psycopg.Connection, db_url: str) -> None:
    middle = platform.execute("SELECT id FROM ticketpilot.audit_log ORDER BY id OFFSET 1 LIMIT 1").fetchone()["id"]
    platform.execute("SET session_replication_role = replica")  # past the append-only trigger, as a superuser
    platform.execute("DELETE FROM ticketpilot.audit_log WHERE id = %s", (middle,))
    platform.execute("RESET session_replication_role")
    [found] = failed(db_url, "audit_chain")
    assert found.startswith(f"expect_column_pair_values_to_be_equal(prev_hash, chain_prev): 1 row(s), e.g. "
                            f"id={middle + 1}, prev_hash=")


def test_a_stuck_delivery_and_an_overdue_gate_fail_the_ticket_store(platform: psycopg.Connection,
                                                                    db_url: str) -> None:
    platform.execute("INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, accepted_at) VALUES "
                     "('qa-one-1', 'ticket__qa-one__1', 1, now() - interval '20 minutes')")
    platform.execute("INSERT INTO ticketpilot.gate_requests (ticket_key, run_id, risk_class, required_approvals, "
                     "requested_at) VALUES ('qa-one-1', 'r1', 'R2', 1, now() - interval '8 days')")
    platform.execute("UPDATE ticketpilot.tickets SET state = 'closed'")  # closed without a close time
    consistency, waiting = failed(db_url, "ticket_store")
    assert consistency == ("expect_column_values_to_be_in_set(consistent): 1 row(s), e.g. kind=ticket, "
                           "subject=qa-one-1, consistent=False")
    assert waiting.startswith("expect_column_pair_values_a_to_be_greater_than_b(budget_s, waiting_s): 2 row(s), "
                              "e.g. kind=dispatch, subject=qa-one-1, budget_s=900, waiting_s=120")
    assert "kind=gate, subject=qa-one-1, budget_s=604800, waiting_s=6912" in waiting
    platform.execute("UPDATE ticketpilot.tenants SET paused_at = now() WHERE tenant_id = 'qa-one'")
    assert "1 row(s), e.g. kind=gate" in failed(db_url, "ticket_store")[1], "a paused tenant's held delivery waits"
