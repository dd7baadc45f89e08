"""Tenant operations over REST, for operators only: what `ticketpilot tenant list|show|pause|resume` and
`ticketpilot directory apply` do, from anywhere that can reach the API server.

An operator is an Airflow user allowed to edit pools (the Op and Admin roles of the simple auth manager; the
equivalent permission under FAB), since tenant operations size and pause what runs on the platform. The
caller's own JWT is forwarded to Airflow's REST API for what the operation changes there (pausing DAGs, sizing
pools), so Airflow checks that person's rights and its audit log records their name, as ours does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from include.airflow_client import AirflowApiError, AirflowClient
from include.contracts.directory import Directory
from include.scm.base import ScmError
from include.settings import get_settings
from include.store import roles
from include.store.tenants import Tenant, get_tenant, list_tenants
from plugins.ingress.state import IngressState

router = APIRouter(tags=["operations"])
_bearer = HTTPBearer(auto_error=False)


class Operator(BaseModel):
    name: str
    token: str = Field(repr=False)


async def operator(request: Request,
                   bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Operator:
    """The Airflow user behind the request, if allowed to edit pools; 401 without a valid token, 403 otherwise."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user

    try:
        user = await get_user(request=request, _oauth_token=None, bearer_credentials=bearer)
    except HTTPException as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, exc.detail, headers={"WWW-Authenticate": "Bearer"}) from exc
    if not get_auth_manager().is_authorized_pool(method="PUT", user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.get_name()} is not an operator: tenant operations "
                                                       "need the right to edit pools (Airflow's Op role)")
    assert bearer is not None  # get_user accepted a token
    return Operator(name=user.get_name(), token=bearer.credentials)


OperatorDep = Annotated[Operator, Depends(operator)]


class TenantView(BaseModel):
    """A tenant without its secrets."""

    tenant_id: str
    scm_kind: str
    default_repo: str
    approvers: list[str]
    paused_at: datetime | None
    paused_by: str | None
    paused_reason: str | None
    paused_dags: list[str]
    held_deliveries: int = 0
    roles: dict[str, list[str]] = Field(default_factory=dict)

    @classmethod
    def of(cls, tenant: Tenant, *, held: int = 0, grants: set[tuple[str, Any]] | None = None) -> TenantView:
        by_role: dict[str, list[str]] = {}
        for person, role in sorted(grants or set()):
            by_role.setdefault(role.value, []).append(person)
        return cls(tenant_id=tenant.tenant_id, scm_kind=tenant.scm_kind, default_repo=tenant.default_repo,
                   approvers=tenant.approvers, paused_at=tenant.paused_at, paused_by=tenant.paused_by,
                   paused_reason=tenant.paused_reason, paused_dags=tenant.paused_dags, held_deliveries=held,
                   roles=by_role)


class PauseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class PauseView(BaseModel):
    tenant: TenantView
    changed: bool
    dags: list[str]
    held: int


class ApplyView(BaseModel):
    changes: list[str]
    secrets: dict[str, str] = Field(description="Hook secrets of tenants created now: shown once, never stored.")
    pending: list[str]


def _state(request: Request) -> IngressState:
    return request.app.state.ingress


@router.get("/tenants", response_model=list[TenantView])
def tenants(request: Request, _: OperatorDep) -> list[TenantView]:
    with _state(request).pool.connection() as conn:
        return [TenantView.of(t) for t in list_tenants(conn)]


@router.get("/tenants/{tenant_id}", response_model=TenantView)
def tenant(tenant_id: str, request: Request, _: OperatorDep) -> TenantView:
    with _state(request).pool.connection() as conn:
        found = get_tenant(conn, tenant_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no tenant {tenant_id!r}")
        from include.tenancy.pause import held_rows

        return TenantView.of(found, held=held_rows(conn, tenant_id), grants=roles.grants(conn, tenant_id))


@router.post("/tenants/{tenant_id}/pause", response_model=PauseView)
async def pause_tenant(tenant_id: str, body: PauseBody, who: OperatorDep) -> PauseView:
    return await run_in_threadpool(_pause, tenant_id, who, body.reason)


@router.post("/tenants/{tenant_id}/resume", response_model=PauseView)
async def resume_tenant(tenant_id: str, who: OperatorDep) -> PauseView:
    return await run_in_threadpool(_pause, tenant_id, who, None)


def _pause(tenant_id: str, who: Operator, reason: str | None) -> PauseView:
    from include.tenancy import pause

    try:
        with _airflow(who) as airflow:
            done = (pause.pause(airflow, tenant_id, by=who.name, reason=reason) if reason is not None
                    else pause.resume(airflow, tenant_id, by=who.name))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return PauseView(tenant=TenantView.of(done.tenant, held=done.held), changed=done.changed, dags=done.dags,
                     held=done.held)


@router.post("/directory/apply", response_model=ApplyView)
async def apply_directory(directory: Directory, who: OperatorDep, dry_run: bool = False) -> ApplyView:
    """Bring the platform to this Team Directory (the file's content as JSON). A repository `source` that is a
    relative path is read relative to the platform's home folder."""
    return await run_in_threadpool(_apply, directory, who, dry_run)


def _apply(directory: Directory, who: Operator, dry_run: bool) -> ApplyView:
    from include.directory.apply import apply as reconcile

    try:
        with _airflow(who) as airflow:
            applied = reconcile(directory, base_dir=Path(get_settings().home), airflow=airflow, actor=who.name,
                                dry_run=dry_run)
    except ScmError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    return ApplyView(changes=applied.changes, secrets=applied.secrets, pending=applied.pending)


@contextmanager
def _airflow(who: Operator) -> Iterator[AirflowClient]:
    """Airflow's REST API as the calling operator; its refusals and outages become a 502 saying so."""
    try:
        with AirflowClient.with_token(get_settings().airflow_api_url, who.token) as client:
            yield client
    except (AirflowApiError, httpx.HTTPError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"Airflow refused or did not answer part of the operation "
                                                         f"({exc}); what was done is kept: repeat the call") from exc
