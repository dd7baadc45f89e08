"""Budget alerts' wording and bookkeeping: a person reads what is spent of what and what happens at 100 %; an
alert marked sent is not pending any more, and marking it twice is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from include.maintenance.budget_alerts import BudgetAlert, mark_sent, pending
from include.store.tenants import create_tenant
from model_serving.router import ledger


def alert(**over: object) -> BudgetAlert:
    base = {"tenant": "acme", "event_id": 4, "scope": "repo", "scope_key": "shop", "threshold": 90,
            "spent_usd": Decimal("45.5"), "limit_usd": Decimal(50), "at": datetime(2026, 12, 7, tzinfo=UTC)}
    return BudgetAlert.model_validate(base | over)


def test_the_text_says_whose_budget_how_much_and_what_100_percent_means() -> None:
    assert alert().text() == ("Budget alert: repo shop of acme has used 90 % of its budget (45.50 of 50.00 USD); "
                              "90 % crossed.")
    assert alert(threshold=100).text().endswith("100 % reached: model calls are refused until the budget is raised "
                                                "or the period ends.")
    assert alert().payload()["key"] == "budget-alert:acme:4"


def test_an_alert_marked_sent_is_no_longer_pending(db: psycopg.Connection) -> None:
    db.execute('DROP SCHEMA IF EXISTS "tenant_acme" CASCADE')
    db.execute("DELETE FROM ticketpilot.tenant_schemas WHERE tenant_id = 'acme'")
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "shop", [])
    ledger.ensure_tenant_schema(db, "acme")
    ledger.record_event(db, "acme", "budget.threshold", "repo:shop", {"scope": "repo", "scope_key": "shop",
                        "threshold": 80, "spent_usd": "40", "limit_usd": "50"}, "k1")
    ledger.record_event(db, "acme", "canary.rollback", "m", {}, "k2")  # not a budget alert
    [found] = [a for a in pending(db) if a.tenant == "acme"]  # other tests' ledgers outlive the truncation
    assert (found.threshold, found.scope_key, found.spent_usd) == (80, "shop", Decimal(40))
    assert mark_sent(db, found, "alerts_acme") and not mark_sent(db, found, "alerts_acme")
    assert [a for a in pending(db) if a.tenant == "acme"] == []
