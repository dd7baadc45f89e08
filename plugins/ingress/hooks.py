"""What every hook route shares, whichever tracker calls it: admission (the tenant's rate limit and the
process's in-flight cap), the JSON body, and the one write path for a ticket revision.

Both refusals of admission answer 503 with Retry-After. ADO retries only 408/502/503/504 (8 times over ~3
minutes, backing off), while any other failure, 429 included, puts the subscription on probation; GitHub and
GitLab show the 503 in their delivery logs, from where it can be resent. A shed delivery stored nothing, so
its repeat is safe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from include import telemetry
from include.store.tenants import Tenant
from include.store.tickets import Accepted, TicketConflict, accept_delivery
from include.tickets.normalise import TicketDelivery
from plugins.ingress.datamodels import AcceptedResponse
from plugins.ingress.ratelimit import retry_after_header
from plugins.ingress.state import IngressState


def ingress_state(request: Request) -> IngressState:
    return request.app.state.ingress


StateDep = Annotated[IngressState, Depends(ingress_state)]


def admit(state: IngressState, hook_tenant: Tenant) -> Tenant:
    """The authenticated tenant, if it is within its hook rate limit; else 503 with Retry-After.
    Counted after authentication, so nobody without the tenant's credentials can spend its budget."""
    wait_s = state.rate_limiter.acquire(hook_tenant.tenant_id, hook_tenant.hook_rate_per_s, hook_tenant.hook_burst)
    if wait_s > 0:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"tenant {hook_tenant.tenant_id} is over its hook rate limit; retry later",
                            headers={"Retry-After": retry_after_header(wait_s)})
    return hook_tenant


@contextmanager
def in_flight(state: IngressState) -> Iterator[None]:
    """Hold one of the process's in-flight slots while the delivery is worked on; 503 when none is free."""
    if state.in_flight >= state.max_in_flight:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"ingress saturated ({state.in_flight} deliveries in flight); retry later",
                            headers={"Retry-After": "2"})
    state.in_flight += 1  # no await between the check and here: the event loop runs one coroutine at a time
    try:
        yield
    finally:
        state.in_flight -= 1


MAX_BODY_BYTES = 2 * 1024 * 1024
"""A work item or issue with its description is kilobytes; anything near this is not a delivery to store."""


async def bounded_body(request: Request) -> bytes:
    """The raw body, refused with 413 past MAX_BODY_BYTES before more of it is read (a signature check or a
    JSON parse must not be made to run over megabytes). Later `request.body()` calls get the same bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(size)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's cache of the body, so dependencies and the route read it once
    return body


def _too_large(size: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"body of {size} bytes or more is over the {MAX_BODY_BYTES} bytes a delivery may have")


async def json_body(request: Request) -> object:
    """The request body as JSON; 400 when it is not JSON or nests deeper than any delivery does (the parser
    recurses: a body of 100,000 `[` would otherwise end in RecursionError, a 500), 413 when it is too large."""
    body = await bounded_body(request)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not valid JSON for a delivery: nested too "
                                                         "deeply to read") from exc


async def accept(state: IngressState, response: Response, delivery: TicketDelivery) -> AcceptedResponse:
    """Store a ticket revision: 202 when new, 200 for a repeat (every tracker must see 2xx for both), 409 when
    the ticket belongs to another item (same number, other repository)."""
    try:
        accepted = await run_in_threadpool(_accept, state, delivery)
    except TicketConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if accepted.duplicate:
        response.status_code = status.HTTP_200_OK
    return AcceptedResponse(ticket_key=accepted.ticket_key, dag_id=accepted.dag_id, rev=accepted.rev)


def _accept(state: IngressState, delivery: TicketDelivery) -> Accepted:
    with telemetry.span("hook.accept", ticket_key=delivery.ticket.ticket_key,
                        attributes={"event.type": delivery.event_type, "rev": delivery.ticket.rev}) as accepting, \
            state.pool.connection() as conn:
        accepted = accept_delivery(conn, delivery)
        accepting.set_attribute("duplicate", accepted.duplicate)
        return accepted
