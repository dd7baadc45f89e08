"""Routes of the ingress app.

Two kinds of caller, two kinds of authentication. ADO service hooks present the tenant's HTTP Basic
credentials (ADO signs nothing else), plus the tenant's header secret when it configured one; a delivery
naming another ADO organisation or project than the tenant declared is refused (403) before anything is
stored. People deciding on gates present their Airflow identity, the same
JWT (bearer header or UI cookie) the Airflow API accepts, validated by Airflow's auth manager, and must
be allowed to change runs of the ticket's DAG; the approver recorded is that user, never a body field.
Airflow does not protect plugin apps, so every route here does its own checks.

The hook path answers within milliseconds and never 410 (which would disable the subscription at once).
Work-item snapshots create and advance tickets; comments, pull-request votes and builds attach to tickets
that exist (`include.tickets.ado_events`). Only a pull-request vote, cast by an identity ADO signed in, can
decide a gate; comment text never does, whoever wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from include.contracts.gate import GateDecision, GateOutcome
from include.contracts.ticket import TENANT_PATTERN, dag_id
from include.store import gates
from include.store.tenants import HOOK_SECRET_HEADER, Tenant, authenticate, check_header_secret
from include.store.tickets import Recorded, record_build, record_comment, record_votes
from include.tickets.ado import AdoDelivery, DeliveryError
from include.tickets.ado_events import (
    BuildDelivery,
    CommentDelivery,
    PullRequestDelivery,
    parse_event,
    scope_mismatch,
)
from plugins.ingress.datamodels import (
    AcceptedResponse,
    GateDecisionBody,
    GateView,
    HealthResponse,
    RecordedResponse,
)
from plugins.ingress.hooks import StateDep, accept, admit, in_flight, json_body
from plugins.ingress.state import IngressState

router = APIRouter()

_basic = HTTPBasic(auto_error=False, realm="ticketpilot")
_bearer = HTTPBearer(auto_error=False, description="An Airflow API token (POST /auth/token)")
_TICKET_KEY = re.compile(rf"(?P<tenant>{TENANT_PATTERN[1:-1]})-(?P<workitem>[1-9][0-9]*)")


def authenticated_tenant(
    tenant: str, state: StateDep, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    header_secret: Annotated[str | None, Header(alias=HOOK_SECRET_HEADER, include_in_schema=False)] = None,
) -> Tenant:
    """The tenant whose hook credentials (and header secret, if it has one) were presented; 401 for
    anything else, unknown tenants included, with one answer that does not say which part was wrong."""
    if credentials is not None:
        # The cached row may predate a secret rotation: one fresh read before refusing.
        for fresh in (False, True):
            record = state.tenant(tenant, fresh=fresh)
            basic_ok = authenticate(record, credentials.username, credentials.password)
            if basic_ok and record is not None and check_header_secret(record, header_secret):
                return record
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or missing hook credentials",
                        headers={"WWW-Authenticate": 'Basic realm="ticketpilot"'})


def admitted_tenant(hook_tenant: Annotated[Tenant, Depends(authenticated_tenant)], state: StateDep) -> Tenant:
    """The authenticated tenant, if it is within its hook rate limit; else 503 with Retry-After.

    503, not 429: ADO retries only 408/502/503/504 (8 times over ~3 minutes, backing off), while any other
    failure, 429 included, puts the subscription on probation. A 503 sheds the burst and ADO redelivers it.
    Counted after authentication, so nobody without the tenant's credentials can spend its budget.
    """
    return admit(state, hook_tenant)


def airflow_user(method: Literal["GET", "PUT"]) -> Callable[..., Awaitable[BaseUser]]:
    """A dependency: the Airflow user behind the request, allowed to `method` runs of the ticket's DAG."""

    async def dependency(
        ticket_key: str, request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> BaseUser:
        # Imported here, not at module level: they cost ~0.6 s, the plugin (so this module) is imported by
        # every Airflow component, and only the API server, which has them loaded already, serves requests.
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.core_api.security import get_user

        try:
            user = await get_user(request=request, _oauth_token=None, bearer_credentials=bearer)
        except HTTPException as exc:  # Airflow answers 403 for a bad token; for us it is unauthenticated
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, exc.detail,
                                headers={"WWW-Authenticate": "Bearer"}) from exc
        match = _TICKET_KEY.fullmatch(ticket_key)
        if match is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{ticket_key!r} is not a ticket key")
        target = dag_id(match["tenant"], int(match["workitem"]))
        if not get_auth_manager().is_authorized_dag(
            method=method, access_entity=DagAccessEntity.RUN, details=DagDetails(id=target), user=user
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{user.get_name()} may not {'read' if method == 'GET' else 'change'} runs of {target}")
        return user

    return dependency


GateDecider = Annotated[BaseUser, Depends(airflow_user("PUT"))]


@router.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    return HealthResponse()


@router.post(
    "/hooks/ado/{tenant}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedResponse | RecordedResponse,
    responses={
        200: {"model": AcceptedResponse | RecordedResponse,
              "description": "A repeat of a delivery already accepted, or a delivery with nothing to record"},
        400: {"description": "The body is not JSON"},
        401: {"description": "Missing or wrong hook credentials (or header secret, where configured)"},
        403: {"description": "The delivery names another ADO organisation or project than the tenant's"},
        409: {"description": "The work item's ticket holds an item from another tracker"},
        422: {"description": "Not a supported delivery; the detail says why and lists the supported events"},
        503: {"description": "Over the tenant's rate limit, ingress saturated, or database unavailable; "
                             "ADO retries (Retry-After)"},
    },
)
async def ado_hook(
    request: Request, response: Response, hook_tenant: Annotated[Tenant, Depends(admitted_tenant)],
    state: StateDep,
) -> AcceptedResponse | RecordedResponse:
    """Accept one ADO delivery: 202 when it changed something, 200 when already seen or nothing to do
    (ADO retries must see 2xx)."""
    with in_flight(state):
        return await _handle(request, response, hook_tenant, state)


async def _handle(request: Request, response: Response, hook_tenant: Tenant,
                  state: IngressState) -> AcceptedResponse | RecordedResponse:
    payload = await json_body(request)
    try:
        event = parse_event(payload, tenant=hook_tenant.tenant_id, default_repo=hook_tenant.default_repo)
    except DeliveryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    foreign = scope_mismatch(event.scope, hook_tenant.ado_org, hook_tenant.ado_project)
    if foreign is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"tenant {hook_tenant.tenant_id}: {foreign}")
    if isinstance(event.body, AdoDelivery):
        return await accept(state, response, event.body)
    recorded = await run_in_threadpool(_record, state, hook_tenant, event.body)
    if recorded.duplicate or not recorded.recorded:
        response.status_code = status.HTTP_200_OK
    return RecordedResponse(event_type=event.event_type, ticket_key=recorded.ticket_key,
                            recorded=recorded.recorded, note=recorded.note)


@router.get("/gates/{ticket_key}", response_model=GateView, dependencies=[Depends(airflow_user("GET"))])
def read_gate(ticket_key: str, state: StateDep, run_id: str | None = None) -> GateView:
    """The run's gate (or the ticket's latest pending one) with every decision so far."""
    with state.pool.connection() as conn, _gate_errors():
        gate = gates.get_gate(conn, ticket_key, run_id)
        return GateView.from_rows(gate, gates.decisions(conn, gate["ticket_key"], gate["run_id"]))


@router.post("/gates/{ticket_key}/approve", response_model=GateView)
def approve_gate(ticket_key: str, body: GateDecisionBody, user: GateDecider, state: StateDep) -> GateView:
    return _decide(state, ticket_key, body, user, GateOutcome.APPROVE)


@router.post("/gates/{ticket_key}/reject", response_model=GateView)
def reject_gate(ticket_key: str, body: GateDecisionBody, user: GateDecider, state: StateDep) -> GateView:
    return _decide(state, ticket_key, body, user, GateOutcome.REJECT)


def _record(state: IngressState, tenant: Tenant,
            body: CommentDelivery | PullRequestDelivery | BuildDelivery) -> Recorded:
    with state.pool.connection() as conn:
        if isinstance(body, CommentDelivery):
            return record_comment(conn, tenant.tenant_id, body)
        if isinstance(body, PullRequestDelivery):
            return record_votes(conn, tenant.tenant_id, tenant.approvers, body)
        return record_build(conn, tenant.tenant_id, body)


def _decide(state: IngressState, ticket_key: str, body: GateDecisionBody, user: BaseUser,
            outcome: GateOutcome) -> GateView:
    decision = GateDecision(ticket_key=ticket_key, run_id=body.run_id, decision=outcome,
                            approver=user.get_name(), comment=body.comment, source="rest")
    with state.pool.connection() as conn, _gate_errors():
        gate = gates.record_decision(conn, decision)
        return GateView.from_rows(gate, gates.decisions(conn, gate["ticket_key"], gate["run_id"]))


@contextmanager
def _gate_errors() -> Iterator[None]:
    """The gate store's refusals as HTTP answers: 404 unknown gate, 409 already decided, 403 not allowed."""
    try:
        yield
    except gates.GateError as exc:
        raise HTTPException(exc.status_code, str(exc)) from exc
