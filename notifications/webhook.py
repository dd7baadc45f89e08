"""An Airflow notifier that POSTs JSON to a webhook named by an Airflow connection.

The connection's `extra.url` (or its `host`, when that is a whole http(s) URL) is the address; an optional
password is sent as a bearer token. Chat tools' incoming webhooks (Teams workflows, Slack, Mattermost) read the
payload's `text`; anything else gets the whole payload. The `Idempotency-Key` header lets a receiver drop a
delivery repeated after a crash between sending and recording it. Usable as a DAG or task callback, like any
notifier, and imperatively from a task (`notify`), as the budget alert DAG does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from airflow.sdk import BaseHook, BaseNotifier

TIMEOUT_S = 10.0


class WebhookNotificationError(RuntimeError):
    """The webhook could not be reached or refused the notification; the message says which and why."""


class WebhookNotifier(BaseNotifier):
    template_fields: Sequence[str] = ("text",)

    def __init__(self, *, conn_id: str, text: str = "", payload: Mapping[str, Any] | None = None,
                 idempotency_key: str | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.text = text
        self.payload = dict(payload or {})
        self.idempotency_key = idempotency_key

    def notify(self, context: Any) -> None:
        url, token = webhook_target(self.conn_id)
        body = {**self.payload, **({"text": self.text} if self.text else {})}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if self.idempotency_key:
            headers["Idempotency-Key"] = self.idempotency_key
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise WebhookNotificationError(f"webhook of connection {self.conn_id} unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise WebhookNotificationError(f"webhook of connection {self.conn_id} answered {response.status_code}: "
                                           f"{response.text[:300]}")


def webhook_target(conn_id: str) -> tuple[str, str | None]:
    """(url, bearer token or None) of the connection; a clear error when it has no usable URL."""
    conn = BaseHook.get_connection(conn_id)
    url = conn.extra_dejson.get("url") or conn.host or ""
    if not url.startswith(("http://", "https://")):
        raise WebhookNotificationError(f"connection {conn_id} has no webhook URL: set its extra "
                                       '{"url": "https://..."} or its host to the whole http(s) URL')
    return url, conn.password or None


def has_connection(conn_id: str) -> bool:
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True
