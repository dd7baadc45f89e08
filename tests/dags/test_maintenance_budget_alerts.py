"""The budget alert DAG on the real PostgreSQL and a real HTTP receiver: thresholds the router recorded while
spending (80, then 90 and 100 %) are each sent once, to the tenant's own connection before the platform's; a
receiver that is down fails the run and gets the alert on the next one; without any connection the run is
skipped and the alerts wait."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowException, AirflowSkipException
from airflow.timetables.trigger import CronTriggerTimetable

from include.maintenance import budget_alerts
from include.settings import REPO_ROOT
from include.store.tenants import create_tenant
from model_serving.router import ledger
from model_serving.router.models import CallContext
from tests.emulators.webhook_receiver import WebhookReceiver

DAG_FILE = REPO_ROOT / "dags" / "maintenance_budget_alerts.py"
DAG_ID = "ticketpilot__budget_alerts"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE), safe_mode=False)


@pytest.fixture
def notify(dagbag: DagBag, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch):
    for name in ("AIRFLOW_CONN_ALERTS_SPENDY", "AIRFLOW_CONN_TICKETPILOT_ALERTS"):
        monkeypatch.delenv(name, raising=False)
    db.execute('DROP SCHEMA IF EXISTS "tenant_spendy" CASCADE')
    db.execute("DELETE FROM ticketpilot.tenant_schemas WHERE tenant_id = 'spendy'")
    create_tenant(db, "spendy", "spendy", "s3cret-s3cret-s3cret", "app", [])
    ledger.set_budget(db, "spendy", "tenant", "spendy", Decimal(10), "month")
    for earlier in budget_alerts.pending(db):  # other tests' tenants' ledgers outlive the truncation
        budget_alerts.mark_sent(db, earlier, "earlier-test")
    return dagbag.dags[DAG_ID].get_task("notify").python_callable


def spend(db: psycopg.Connection, call: str, usd: str) -> list[str]:
    ctx = CallContext(tenant="spendy", ticket_key="spendy-1", step="dev")
    ledger.record_call(db, ledger.CallRecord(context=ctx, provider="openai", model="gpt-4o-mini", status="ok",
                                             idempotency_key=call, cost_usd=Decimal(usd)))
    return ledger.record_thresholds(db, ctx)


def webhook(monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "generic", "extra": {"url": url}}))


def test_the_dag_imports_and_runs_every_ten_minutes(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.catchup is False and dag.max_active_runs == 1 and "maintenance" in dag.tags
    assert dag.timetable == CronTriggerTimetable("*/10 * * * *", timezone="UTC")
    assert dag.get_task("notify").retries == 2


def test_each_threshold_is_sent_once_to_the_tenant_s_own_connection(notify, db: psycopg.Connection,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert notify() == {"sent": 0, "waiting": 0}
    assert len(spend(db, "c1", "8.50")) == 1
    with WebhookReceiver() as platform, WebhookReceiver() as own:
        webhook(monkeypatch, "ticketpilot_alerts", platform.url)
        webhook(monkeypatch, "alerts_spendy", own.url)
        assert notify() == {"sent": 1, "waiting": 0}
        assert len(spend(db, "c2", "1.60")) == 2  # 10.10 of 10: 90 and 100 % at once
        assert notify() == {"sent": 2, "waiting": 0}
        assert notify() == {"sent": 0, "waiting": 0}, "nothing is sent twice"
    assert platform.received == []
    assert [r.body["threshold"] for r in own.received] == [80, 90, 100]
    assert own.received[0].body["text"] == ("Budget alert: tenant spendy has used 80 % of its budget (8.50 of 10.00 "
                                            "USD); 80 % crossed.")
    assert "calls are refused" in own.received[2].body["text"]
    assert len({r.headers["idempotency-key"] for r in own.received}) == 3


def test_a_receiver_that_is_down_fails_the_run_and_gets_the_alert_next_time(notify, db: psycopg.Connection,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spend(db, "c1", "9.00")  # 80 and 90 % at once
    with WebhookReceiver(fail_next=1) as platform:
        webhook(monkeypatch, "ticketpilot_alerts", platform.url)
        with pytest.raises(AirflowException, match="(?s)of 1 tenant\\(s\\) not delivered.*spendy:1: .*answered 500"):
            notify()
        assert [a.threshold for a in budget_alerts.pending(db)] == [80, 90], "90 % never goes before a failed 80 %"
        assert notify() == {"sent": 2, "waiting": 0}
    assert [(r.body["tenant"], r.body["threshold"]) for r in platform.received] == [("spendy", 80), ("spendy", 90)]
    assert budget_alerts.pending(db) == []


def test_without_a_connection_the_run_is_skipped_and_the_alerts_wait(notify, db: psycopg.Connection,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    spend(db, "c1", "8.00")
    with pytest.raises(AirflowSkipException, match="1 budget alert\\(s\\) wait for an alert connection"):
        notify()
    assert "not sent, no connection alerts_spendy or ticketpilot_alerts" in capsys.readouterr().out
    assert [a.threshold for a in budget_alerts.pending(db)] == [80]
