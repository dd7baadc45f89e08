"""The emulator's service hooks: deliveries in ADO's shape (our ingress parser accepts each one), Basic
credentials and custom headers as subscribed, and ADO's retry schedule for 408/502/503/504 only."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from include.tickets.ado import AdoDelivery
from include.tickets.ado_events import BuildDelivery, PullRequestDelivery, parse_event
from tests.emulators.ado.server import EmulatorServer

FAST = 0.01  # ADO's 1, 2, 4 ... 60 s schedule in hundredths


class Receiver(ThreadingHTTPServer):
    """A subscriber that records every request and answers the scripted statuses, then 200."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.script: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def payloads(self, event_type: str) -> list[dict[str, Any]]:
        return [body for _, body in self.received if body["eventType"] == event_type]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.server.script.pop(0) if self.server.script else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def settled(emulator: EmulatorServer, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deliveries = emulator.deliveries()
        if len(deliveries) >= count and all(d["outcome"] != "pending" for d in deliveries):
            return deliveries
        time.sleep(0.05)
    raise AssertionError(f"deliveries did not settle: {emulator.deliveries()}")


def test_work_item_created_and_updated_reach_the_subscriber(ado_emulator: EmulatorServer, receiver: Receiver) -> None:
    ado_emulator.subscribe(receiver.url, ["workitem.created", "workitem.updated"], basicAuthUsername="contoso",
                           basicAuthPassword="hook-secret", httpHeaders="X-Ticketpilot-Hook-Secret: h1",
                           retryDelayScale=FAST)
    item = ado_emulator.seed_work_item({"System.Title": "Fix lint: remove unused imports", "System.Tags": "lint"})
    response = httpx.patch(f"{ado_emulator.org_url}/proj/_apis/wit/workitems/{item['id']}?api-version=7.1",
                           json=[{"op": "add", "path": "/fields/System.State", "value": "Active"}],
                           headers={"Content-Type": "application/json-patch+json"}, auth=("", "pat"))
    assert response.status_code == 200
    assert [d["outcome"] for d in settled(ado_emulator, 2)] == ["delivered", "delivered"]

    headers, created = receiver.received[0]
    assert headers["authorization"] == "Basic " + base64.b64encode(b"contoso:hook-secret").decode()
    assert headers["x-ticketpilot-hook-secret"] == "h1"
    (updated,) = receiver.payloads("workitem.updated")
    assert created["eventType"] == "workitem.created" and created["publisherId"] == "tfs"
    assert {"id", "subscriptionId", "notificationId", "message", "detailedMessage", "resourceContainers",
            "createdDate", "resourceVersion"} <= set(created)
    assert updated["resource"]["fields"]["System.State"] == {"oldValue": "New", "newValue": "Active"}
    assert updated["resource"]["revision"]["rev"] == 2
    for payload in (created, updated):
        delivery = parse_event(payload, "contoso", "svc").body
        assert isinstance(delivery, AdoDelivery)
        assert (delivery.ticket.workitem_id, delivery.ticket.title) == (item["id"], "Fix lint: remove unused imports")


def test_retryable_statuses_are_retried_and_others_are_not(ado_emulator: EmulatorServer, receiver: Receiver) -> None:
    ado_emulator.subscribe(receiver.url, ["workitem.created"], retryDelayScale=FAST)
    receiver.script = [503, 408, 502, 504]
    ado_emulator.seed_work_item({"System.Title": "retried"})
    (retried,) = settled(ado_emulator, 1)
    assert retried["statuses"] == [503, 408, 502, 504, 200] and retried["outcome"] == "delivered"
    first = receiver.payloads("workitem.created")
    assert len({p["id"] for p in first}) == 1, "a retry redelivers the same event id"

    receiver.script = [400]
    ado_emulator.seed_work_item({"System.Title": "refused"})
    refused = settled(ado_emulator, 2)[1]
    assert refused["statuses"] == [400] and refused["outcome"] == "failed"


def test_retries_stop_after_ados_eight(ado_emulator: EmulatorServer, receiver: Receiver) -> None:
    ado_emulator.subscribe(receiver.url, ["workitem.created"], retryDelayScale=0.001)
    receiver.script = [503] * 20
    ado_emulator.seed_work_item({"System.Title": "outage"})
    (gave_up,) = settled(ado_emulator, 1)
    assert gave_up["statuses"] == [503] * 9 and gave_up["outcome"] == "failed"


def test_votes_and_finished_builds_are_announced(ado_emulator: EmulatorServer, receiver: Receiver) -> None:
    ado_emulator.subscribe(receiver.url, ["git.pullrequest.updated", "build.complete"], retryDelayScale=FAST)
    main = ado_emulator.seed_repo("svc", {"README.md": "hi\n"})
    api = f"{ado_emulator.org_url}/proj/_apis"
    auth = ("", "pat")
    refs = [{"name": "refs/heads/feature", "oldObjectId": "0" * 40, "newObjectId": main}]
    assert httpx.post(f"{api}/git/repositories/svc/refs?api-version=7.1", json=refs, auth=auth).is_success
    pr = httpx.post(f"{api}/git/repositories/svc/pullrequests?api-version=7.1", auth=auth, json={
        "sourceRefName": "refs/heads/feature", "targetRefName": "refs/heads/main", "title": "t"}).json()
    vote = httpx.put(f"{api}/git/repositories/svc/pullRequests/{pr['pullRequestId']}/reviewers/r1?api-version=7.1",
                     json={"vote": 10}, auth=auth)
    assert vote.is_success
    run = httpx.post(f"{api}/pipelines/7/runs?api-version=7.1", auth=auth,
                     json={"resources": {"repositories": {"self": {"refName": "refs/heads/feature"}}}}).json()
    ado_emulator.admin("POST", f"pipelines/7/runs/{run['id']}", {"result": "succeeded"})
    settled(ado_emulator, 2)
    (voted,) = receiver.payloads("git.pullrequest.updated")
    assert voted["resource"]["reviewers"][0]["vote"] == 10
    (built,) = receiver.payloads("build.complete")
    assert (built["resource"]["result"], built["resource"]["sourceBranch"]) == ("succeeded", "refs/heads/feature")
    assert isinstance(parse_event(voted, "contoso", "svc").body, PullRequestDelivery)
    assert isinstance(parse_event(built, "contoso", "svc").body, BuildDelivery)
