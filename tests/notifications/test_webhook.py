"""The webhook notifier over real HTTP: the connection's URL (extra or host), its password as a bearer token,
the idempotency key as a header, the payload's `text`; an outage, a refusal and a connection without a URL are
errors that say which connection and why."""

from __future__ import annotations

import json

import pytest

from notifications.webhook import WebhookNotificationError, WebhookNotifier, has_connection, webhook_target
from tests.emulators.webhook_receiver import WebhookReceiver


def connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "generic", **fields}))


def test_a_notification_is_posted_with_its_token_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver() as receiver:
        connection(monkeypatch, "alerts_acme", extra={"url": receiver.url}, password="t0ken")
        WebhookNotifier(conn_id="alerts_acme", payload={"kind": "x", "text": "old"}, text="Budget alert",
                        idempotency_key="budget-alert:acme:1").notify({})
    [got] = receiver.received
    assert got.body == {"kind": "x", "text": "Budget alert"}
    assert got.headers["authorization"] == "Bearer t0ken" and got.headers["idempotency-key"] == "budget-alert:acme:1"


def test_a_host_that_is_a_whole_url_is_the_address_and_the_token_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver() as receiver:
        connection(monkeypatch, "ticketpilot_alerts", host=receiver.url)
        assert webhook_target("ticketpilot_alerts") == (receiver.url, None)
        WebhookNotifier(conn_id="ticketpilot_alerts", text="hello").notify({})
    assert [r.body for r in receiver.received] == [{"text": "hello"}]
    assert "authorization" not in receiver.received[0].headers


def test_a_refusal_an_outage_and_a_connection_without_url_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver(fail_next=1) as receiver:
        connection(monkeypatch, "alerts_acme", extra={"url": receiver.url})
        with pytest.raises(WebhookNotificationError, match="connection alerts_acme answered 500: receiver down"):
            WebhookNotifier(conn_id="alerts_acme", text="x").notify({})
        url = receiver.url
    connection(monkeypatch, "alerts_acme", extra={"url": url})
    with pytest.raises(WebhookNotificationError, match="alerts_acme unreachable"):
        WebhookNotifier(conn_id="alerts_acme", text="x").notify({})
    connection(monkeypatch, "alerts_acme", host="hooks.example")
    with pytest.raises(WebhookNotificationError, match="has no webhook URL"):
        WebhookNotifier(conn_id="alerts_acme", text="x").notify({})
    assert has_connection("alerts_acme") and not has_connection("alerts_nobody")
