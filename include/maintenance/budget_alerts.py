"""Budget alerts at 80/90/100 %: which thresholds crossed and not yet told, what to say, where to say it.

The router records each crossed threshold once per budget and period as a `budget.threshold` event in the
tenant's ledger (`model_serving.router.ledger.record_thresholds`). This module lists those events that no
notifier has delivered yet (`ticketpilot.budget_alerts_sent`), oldest first, and marks each once delivered,
so an alert is sent once and a failed delivery is retried on the next run.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict

from model_serving.router import ledger

PLATFORM_CHANNEL = "ticketpilot_alerts"
"""The Airflow connection alerts go to when the tenant has none of its own (`alerts_<tenant>`)."""


def tenant_channel(tenant: str) -> str:
    return f"alerts_{tenant}"


class BudgetAlert(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    event_id: int
    scope: str
    scope_key: str
    threshold: int
    spent_usd: Decimal
    limit_usd: Decimal
    at: datetime

    @property
    def key(self) -> str:
        """Stable per alert: receivers dedupe a delivery repeated after a crash by it."""
        return f"budget-alert:{self.tenant}:{self.event_id}"

    def text(self) -> str:
        what = f"tenant {self.tenant}" if self.scope == "tenant" else f"{self.scope} {self.scope_key} of {self.tenant}"
        verdict = ("reached: model calls are refused until the budget is raised or the period ends"
                   if self.threshold >= 100 else "crossed")
        return (f"Budget alert: {what} has used {self.threshold} % of its budget "
                f"({self.spent_usd:.2f} of {self.limit_usd:.2f} USD); {self.threshold} % {verdict}.")

    def payload(self) -> dict[str, object]:
        """`text` for chat webhooks (Teams, Slack, Mattermost accept it), the figures for anything else."""
        return {"text": self.text(), "kind": "budget.threshold", "tenant": self.tenant, "scope": self.scope,
                "scope_key": self.scope_key, "threshold": self.threshold, "spent_usd": str(self.spent_usd),
                "limit_usd": str(self.limit_usd), "at": self.at.isoformat(), "key": self.key}


def pending(conn: psycopg.Connection) -> list[BudgetAlert]:
    """Every tenant's threshold events not yet delivered, oldest first per tenant."""
    tenants = [r["tenant_id"] for r in conn.execute(
        "SELECT tenant_id FROM ticketpilot.tenant_schemas ORDER BY tenant_id").fetchall()]
    found: list[BudgetAlert] = []
    for tenant in tenants:
        query = sql.SQL(
            "SELECT e.id, e.details, e.created_at FROM {} e WHERE e.kind = 'budget.threshold' AND NOT EXISTS "
            "(SELECT 1 FROM ticketpilot.budget_alerts_sent s WHERE s.tenant_id = %s AND s.event_id = e.id) "
            "ORDER BY e.id").format(ledger.table(tenant, "events"))
        for row in ledger.rows(conn, query, (tenant,)):
            d = row["details"]
            found.append(BudgetAlert(tenant=tenant, event_id=row["id"], scope=d["scope"], scope_key=d["scope_key"],
                                     threshold=int(d["threshold"]), spent_usd=Decimal(d["spent_usd"]),
                                     limit_usd=Decimal(d["limit_usd"]), at=row["created_at"]))
    return found


def mark_sent(conn: psycopg.Connection, alert: BudgetAlert, channel: str) -> bool:
    """Record the alert delivered through `channel`; False when it already was."""
    return conn.execute("INSERT INTO ticketpilot.budget_alerts_sent (tenant_id, event_id, channel) "
                        "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (alert.tenant, alert.event_id, channel)
                        ).rowcount == 1
