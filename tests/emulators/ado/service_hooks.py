"""Service hooks of the ADO emulator: Web Hooks subscriptions and their deliveries.

A subscription (URL, optional Basic credentials and headers, event types, optionally a project) is registered
through `POST /_emulator/subscriptions` or ADO's own `POST /{org}/_apis/hooks/subscriptions` (hooks_api.py);
every matching event is POSTed in ADO's delivery shape (the samples under
shared/reference/ado-events) from a background thread, so the request that caused it answers first, as in
ADO. 408/502/503/504 and connection failures are retried on ADO's schedule (1, 2, 4, 8, 16, 32, 60, 60 s),
scaled by the subscription's `retryDelayScale` so tests wait milliseconds; any other failure ends the
delivery, as probation does.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel

RETRY_SCHEDULE_S = (1, 2, 4, 8, 16, 32, 60, 60)
RETRYABLE = frozenset({408, 502, 503, 504})
# The `tfs` publisher's event ids (hooks/httpExamples/publishers/GET__hooks_publishers.json) the emulator raises.
EVENT_TYPES = frozenset({"workitem.created", "workitem.updated", "git.pullrequest.created", "git.pullrequest.updated",
                         "build.complete"})
# Every event id the `tfs` publisher declares: ADO accepts a subscription to any of them; the emulator raises
# only EVENT_TYPES, so a subscription to another (workitem.commented, git.push, ...) is kept and never fires.
PUBLISHED_EVENT_TYPES = EVENT_TYPES | {"workitem.commented", "git.push", "message.posted", "tfvc.checkin"}


class Subscription(BaseModel):
    """The Web Hooks consumer inputs of an ADO subscription (`consumerInputs`), by their ADO names."""

    url: str
    event_types: list[str]
    basicAuthUsername: str | None = None
    basicAuthPassword: str | None = None
    httpHeaders: str = ""  # one "Key:value" per line
    retryDelayScale: float = 1.0  # emulator only: 0.01 turns ADO's ~3 minutes of retries into ~2 seconds
    project_id: str | None = None  # publisherInputs.projectId: only events of that project are delivered
    enabled: bool = True  # False for ADO's disabled statuses: nothing is delivered


@dataclass
class Attempt:
    status: int | None  # None: the connection failed
    at: float


@dataclass
class Delivery:
    subscription_id: str
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "pending"  # pending, delivered, failed


class ServiceHooks:
    """Subscriptions plus one sender thread working a due-time queue, so a retry waiting its turn never
    holds up another delivery."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self._due: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def subscribe(self, subscription: Subscription, sub_id: str | None = None) -> str:
        """Register `subscription` (under `sub_id` when given: a replace keeps its id); returns the id."""
        unknown = set(subscription.event_types) - PUBLISHED_EVENT_TYPES
        if unknown:
            raise ValueError(f"unsupported event types {sorted(unknown)}; supported: {sorted(EVENT_TYPES)}")
        sub_id = sub_id or str(uuid.uuid4())
        self.subscriptions[sub_id] = subscription
        return sub_id

    def unsubscribe(self, sub_id: str) -> None:
        """Forget a subscription; its deliveries still queued are dropped when their turn comes."""
        self.subscriptions.pop(sub_id, None)

    def publish(self, envelope: dict[str, Any]) -> None:
        """Queue the event `envelope` (all but the per-delivery ids) for every enabled subscription of its type
        and, where the subscription names one, its project (`resourceContainers.project.id`)."""
        project = ((envelope.get("resourceContainers") or {}).get("project") or {}).get("id")
        for sub_id, subscription in list(self.subscriptions.items()):
            if not subscription.enabled or subscription.project_id not in (None, project):
                continue
            if envelope["eventType"] in subscription.event_types:
                payload = {"subscriptionId": sub_id, "notificationId": len(self.deliveries) + 1,
                           "id": str(uuid.uuid4()), **envelope}
                delivery = Delivery(sub_id, payload)
                self.deliveries.append(delivery)
                self._schedule(delivery, 0.0)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _schedule(self, delivery: Delivery, delay_s: float) -> None:
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ado-service-hooks", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), delivery))
            self._wake.notify()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                with self._wake:
                    while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                        self._wake.wait(timeout=self._due[0][0] - time.monotonic() if self._due else None)
                    if self._closed:
                        return
                    _, _, delivery = heapq.heappop(self._due)
                self._send(client, delivery)

    def _send(self, client: httpx.Client, delivery: Delivery) -> None:
        subscription = self.subscriptions.get(delivery.subscription_id)
        if subscription is None:  # deleted while the delivery waited
            delivery.outcome = "failed"
            return
        headers = {key.strip(): value.strip() for key, _, value in
                   (line.partition(":") for line in subscription.httpHeaders.splitlines() if ":" in line)}
        auth = None
        if subscription.basicAuthUsername is not None:
            auth = (subscription.basicAuthUsername, subscription.basicAuthPassword or "")
        try:
            status: int | None = client.post(subscription.url, json=delivery.payload, headers=headers,
                                             auth=auth).status_code
        except httpx.TransportError:
            status = None
        delivery.attempts.append(Attempt(status, time.monotonic()))
        if status is not None and 200 <= status < 300:
            delivery.outcome = "delivered"
        elif (status is None or status in RETRYABLE) and len(delivery.attempts) <= len(RETRY_SCHEDULE_S):
            self._schedule(delivery, RETRY_SCHEDULE_S[len(delivery.attempts) - 1] * subscription.retryDelayScale)
        else:
            delivery.outcome = "failed"
