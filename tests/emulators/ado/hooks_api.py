"""Service hook subscriptions over ADO's REST API (hooks 7.1 spec, copy under specs/; api-version 7.1):
`/{org}/_apis/hooks/subscriptions`. Each one feeds the emulator's delivery machinery (service_hooks.py)
under the same id, so an event raised afterwards reaches the consumer URL with the subscribed credentials.

Only the Web Hooks consumer is emulated: publisherId `tfs`, consumerId `webHooks`, consumerActionId
`httpRequest`, consumerInputs url/basicAuthUsername/basicAuthPassword/httpHeaders (plus any other input,
stored and echoed). `publisherInputs.projectId`, when given, must be an existing project's id and limits
deliveries to that project's events. As in ADO, an answer never shows a confidential input: the Web Hooks
consumer's `basicAuthPassword` (isConfidential in hooks/httpExamples/consumers) reads `********`, the mask
of the recorded subscription examples; a PUT that sends the mask back keeps the stored password.

Create answers 200 and Delete 204, as the recorded examples do (the spec lists 200 for both).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.http import listing
from tests.emulators.ado.service_hooks import PUBLISHED_EVENT_TYPES, Subscription
from tests.emulators.ado.state import EmulatorState, now

ORG_API = "/{org}/_apis"
MASK = "********"
CONFIDENTIAL = frozenset({"basicAuthPassword"})
STATUSES = ("enabled", "onProbation", "disabledByUser", "disabledBySystem", "disabledByInactiveIdentity")


def hooks_routes(app: FastAPI, state: EmulatorState) -> None:
    base = ORG_API + "/hooks/subscriptions"

    @app.get(base)
    async def list_subscriptions(request: Request) -> dict[str, Any]:
        """Subscriptions - List, filtered by publisherId, eventType, consumerId and consumerActionId."""
        query = request.query_params
        keys = ("publisherId", "eventType", "consumerId", "consumerActionId")
        found = [s for s in state.hook_subscriptions.values() if all(query.get(k) in (None, s[k]) for k in keys)]
        return listing([masked(s) for s in found])

    @app.post(base)
    async def create_subscription(request: Request) -> dict[str, Any]:
        record = accepted(state, await request.json(), None)
        state.hook_subscriptions[record["id"]] = record
        state.service_hooks.subscribe(delivering(record), record["id"])
        return masked(record)

    @app.get(base + "/{subscription_id}")
    async def get_subscription(subscription_id: str) -> dict[str, Any]:
        return masked(existing(state, subscription_id))

    @app.put(base + "/{subscription_id}")
    async def replace_subscription(subscription_id: str, request: Request) -> dict[str, Any]:
        """Subscriptions - Replace Subscription: in place, same id and createdDate."""
        record = accepted(state, await request.json(), existing(state, subscription_id))
        state.hook_subscriptions[subscription_id] = record
        state.service_hooks.subscribe(delivering(record), subscription_id)
        return masked(record)

    @app.delete(base + "/{subscription_id}", status_code=204)
    async def delete_subscription(subscription_id: str) -> Response:
        existing(state, subscription_id)
        del state.hook_subscriptions[subscription_id]
        state.service_hooks.unsubscribe(subscription_id)
        return Response(status_code=204)


def existing(state: EmulatorState, subscription_id: str) -> dict[str, Any]:
    record = state.hook_subscriptions.get(subscription_id)
    if record is None:
        raise AdoHttpError(404, f"The subscription {subscription_id} does not exist.",
                           "SubscriptionNotFoundException")
    return record


def masked(record: dict[str, Any]) -> dict[str, Any]:
    inputs = {k: (MASK if k in CONFIDENTIAL and v else v) for k, v in record["consumerInputs"].items()}
    return record | {"consumerInputs": inputs}


def delivering(record: dict[str, Any]) -> Subscription:
    inputs = record["consumerInputs"]
    return Subscription(url=inputs["url"], event_types=[record["eventType"]],
                        basicAuthUsername=inputs.get("basicAuthUsername"),
                        basicAuthPassword=inputs.get("basicAuthPassword"), httpHeaders=inputs.get("httpHeaders", ""),
                        project_id=record["publisherInputs"].get("projectId"), enabled=record["status"] == "enabled")


def _invalid(message: str) -> AdoHttpError:
    return AdoHttpError(400, message, "InvalidArgumentValueException")


def accepted(state: EmulatorState, body: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The stored Subscription for a create (`old` None) or replace body; secrets kept, never echoed."""
    wanted = {"publisherId": "tfs", "consumerId": "webHooks", "consumerActionId": "httpRequest"}
    for key, value in wanted.items():
        if body.get(key) != value:
            raise _invalid(f"{key} must be {value!r} (the emulator serves Web Hooks), not {body.get(key)!r}.")
    event_type = body.get("eventType")
    if event_type not in PUBLISHED_EVENT_TYPES:
        raise _invalid(f"eventType {event_type!r} is not an event of the tfs publisher: "
                       f"{sorted(PUBLISHED_EVENT_TYPES)}.")
    consumer = {k: str(v) for k, v in (body.get("consumerInputs") or {}).items() if v is not None}
    publisher = {k: str(v) for k, v in (body.get("publisherInputs") or {}).items() if v is not None}
    url = consumer.get("url", "")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise _invalid(f"consumerInputs.url must be an http(s) URL, not {url!r}.")
    for key in CONFIDENTIAL:
        if consumer.get(key) == MASK:
            if old is None or not old["consumerInputs"].get(key):
                raise _invalid(f"consumerInputs.{key} is the mask {MASK!r}, and there is no stored value to keep.")
            consumer[key] = old["consumerInputs"][key]
    project_id = publisher.get("projectId")
    if project_id is not None and not any(p.id == project_id for p in state.projects.values()):
        raise _invalid(f"publisherInputs.projectId {project_id!r} is not the id of a project.")
    status = body.get("status") or (old["status"] if old else "enabled")
    if status not in STATUSES:
        raise _invalid(f"status must be one of {STATUSES}, not {status!r}.")
    sub_id = old["id"] if old else str(uuid.uuid4())
    stamp = now()
    return {
        "id": sub_id,
        "url": state.org_api(f"hooks/subscriptions/{sub_id}"),
        "status": status,
        "publisherId": "tfs",
        "eventType": event_type,
        "resourceVersion": str(body.get("resourceVersion") or "1.0"),
        "eventDescription": old["eventDescription"] if old else "",
        "consumerId": "webHooks",
        "consumerActionId": "httpRequest",
        "actionDescription": f"To host {urlsplit(url).hostname}",
        "createdBy": old["createdBy"] if old else {"id": state.identity["id"]},
        "createdDate": old["createdDate"] if old else stamp,
        "modifiedBy": {"id": state.identity["id"]},
        "modifiedDate": stamp,
        "publisherInputs": publisher | {"hostId": state.host_id,
                                        "tfsSubscriptionId": (old or {}).get("publisherInputs", {}).get(
                                            "tfsSubscriptionId", str(uuid.uuid4()))},
        "consumerInputs": consumer,
    }
