"""Routes of the ingress app.

Two kinds of caller, two kinds of authentication. ADO service hooks present the tenant's HTTP Basic
credentials (ADO signs nothing else). People deciding on gates present their Airflow identity, the same
JWT (bearer header or UI cookie) the Airflow API accepts, validated by Airflow's auth manager, and must
be allowed to change runs of the ticket's DAG; the approver recorded is that user, never a body field.
Airflow does not protect plugin apps, so every route here does its own checks.

The hook path answers within milliseconds and never 410 (which would disable the subscription at once).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from include.contracts.gate import GateDecision, GateOutcome
from include.contracts.ticket import TENANT_PATTERN, dag_id
from include.store import gates
from include.store.tenants import Tenant, authenticate
from include.store.tickets import Accepted, accept_delivery
from include.tickets.ado import AdoDelivery, DeliveryError, parse_ado_delivery
from plugins.ingress.datamodels import AcceptedResponse, GateDecisionBody, GateView, HealthResponse
from plugins.ingress.state import IngressState

router = APIRouter()

_basic = HTTPBasic(auto_error=False, realm="ticketpilot")
_bearer = HTTPBearer(auto_error=False, description="An Airflow API token (POST /auth/token)")
_TICKET_KEY = re.compile(rf"(?P<tenant>{TENANT_PATTERN[1:-1]})-(?P<workitem>[1-9][0-9]*)")


def ingress_state(request: Request) -> IngressState:
    return request.app.state.ingress


StateDep = Annotated[IngressState, Depends(ingress_state)]


def authenticated_tenant(
    tenant: str, state: StateDep, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> Tenant:
    """The tenant whose hook credentials were presented; 401 for anything else, unknown tenants included."""
    if credentials is not None:
        record = state.tenant(tenant)
        if authenticate(record, credentials.username, credentials.password):
            return record
        # The cached row may predate a secret rotation: one fresh read before refusing.
        record = state.tenant(tenant, fresh=True)
        if authenticate(record, credentials.username, credentials.password):
            return record
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or missing hook credentials",
                        headers={"WWW-Authenticate": 'Basic realm="ticketpilot"'})


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
    response_model=AcceptedResponse,
    responses={
        200: {"model": AcceptedResponse, "description": "A repeat of a delivery already accepted"},
        400: {"description": "The body is not JSON"},
        401: {"description": "Missing or wrong hook credentials"},
        422: {"description": "Not a supported work-item delivery; the detail says why"},
        503: {"description": "Database unavailable; ADO retries"},
    },
)
async def ado_hook(
    request: Request, response: Response, hook_tenant: Annotated[Tenant, Depends(authenticated_tenant)],
    state: StateDep,
) -> AcceptedResponse:
    """Accept one ADO work-item delivery: 202 when new, 200 when already seen (ADO retries must see 2xx)."""
    try:
        payload = json.loads(await request.body())
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not valid JSON: {exc}") from exc
    try:
        delivery = parse_ado_delivery(payload, tenant=hook_tenant.tenant_id, default_repo=hook_tenant.default_repo)
    except DeliveryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    accepted = await run_in_threadpool(_accept, state, delivery)
    if accepted.duplicate:
        response.status_code = status.HTTP_200_OK
    return AcceptedResponse(ticket_key=accepted.ticket_key, dag_id=accepted.dag_id, rev=accepted.rev)


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


def _accept(state: IngressState, delivery: AdoDelivery) -> Accepted:
    with state.pool.connection() as conn:
        return accept_delivery(conn, delivery)


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
