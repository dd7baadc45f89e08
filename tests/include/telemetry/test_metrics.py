"""Metrics through the real OpenTelemetry SDK into the embedded metrics file: hook durations by tenant, source
and status (a refused caller's made-up tenant never becomes a series), model calls and spend per tenant and
model with cache hits, and the spawner's outbox depth and oldest gate wait read from the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from include.contracts import RiskClass
from include.settings import get_settings
from include.spawner.figures import platform_figures
from include.store import gates
from include.store.tenants import create_tenant
from include.telemetry import metrics
from plugins.ingress.app import URL_PREFIX, create_app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path))
    monkeypatch.setenv("TICKETPILOT_METRICS_INTERVAL_S", "3600")  # exported when flushed, not on a timer
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("TICKETPILOT_TELEMETRY", raising=False)
    get_settings.cache_clear()
    metrics.reset_for_tests()
    yield tmp_path
    metrics.reset_for_tests()
    get_settings.cache_clear()


def attrs(point: dict) -> dict:
    return point["attributes"]


def test_hook_durations_are_recorded_without_a_series_per_made_up_tenant(home: Path, db: psycopg.Connection,
                                                                          db_url: str) -> None:
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "web", [])
    app = create_app(db_url)
    root = FastAPI()
    root.mount(URL_PREFIX, app)
    with TestClient(root) as client:
        assert client.post(f"{URL_PREFIX}/hooks/ado/acme", content=b"{", auth=("acme", "s3cret-s3cret-s3cret"),
                           headers={"Content-Type": "application/json"}).status_code == 400
        for n in range(3):
            client.post(f"{URL_PREFIX}/hooks/ado/nobody{n}", json={}, auth=("x", "y"))
        client.get(f"{URL_PREFIX}/health")
    app.state.ingress.close()
    metrics.flush()
    found = {(a["tenant"], a["source"], a["status"]): p["count"]
             for p in metrics.points(metrics.metrics_path(), "ticketpilot.hook.duration") for a in [attrs(p)]}
    assert found == {("-", "ado", 400): 1, ("-", "ado", 401): 3}


def test_model_calls_spend_and_the_spawner_s_gauges(home: Path, db: psycopg.Connection, db_url: str) -> None:
    metrics.record_model_call(tenant="acme", model="openai:gpt-4o-mini", cost_usd=0.002, cache_hit=False)
    metrics.record_model_call(tenant="acme", model="openai:gpt-4o-mini", cost_usd=0.0, cache_hit=True)
    create_tenant(db, "acme", "acme", "s3cret-s3cret-s3cret", "web", [])
    db.execute("INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev) VALUES ('acme-1', 'ticket__acme__1', 1), "
               "('acme-2', 'ticket__acme__2', 1)")
    gates.request_gate(db, ticket_key="acme-1", run_id="r1", risk_class=RiskClass.R2, named_approvers=[])
    db.execute("UPDATE ticketpilot.gate_requests SET requested_at = now() - interval '1 hour'")
    metrics.observe_platform(lambda: platform_figures(db_url, max_age_s=0))
    metrics.flush()
    path = metrics.metrics_path()
    calls = {attrs(p)["cache_hit"]: p["value"] for p in metrics.points(path, "ticketpilot.model.calls")}
    assert calls == {False: 1, True: 1}
    [cost] = metrics.points(path, "ticketpilot.model.cost")
    assert cost["value"] == pytest.approx(0.002) and attrs(cost) == {"tenant": "acme", "model": "openai:gpt-4o-mini"}
    assert [p["value"] for p in metrics.points(path, "ticketpilot.outbox.depth")] == [2]
    [wait] = metrics.points(path, "ticketpilot.gate.oldest_wait")
    assert 3590 < wait["value"] < 3700
