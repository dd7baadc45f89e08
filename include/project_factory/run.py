"""The Project Factory's steps as the DAG runs them (one task each, ids passed on), and all of them in one call for
the CLI-less paths: tests and bench/project_factory.py. Each step opens the tenant's connection itself, so a task
that retries needs nothing from the one before but the ids it returned."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from include.project_factory.factory import ProjectFactory
from include.project_factory.spec import ProjectSpec
from include.scm.ado.auth import BearerAuth, PatAuth, entra_token_provider
from include.scm.ado.client import AdoClient
from include.scm.base import ScmError
from include.scm.connections import ForgeConnection, read_connection
from include.scm.http_retry import RetryPolicy
from include.store import audit
from include.store.db import connect
from include.store.tenants import Tenant, get_tenant, set_hook_secret


class FactoryReport(BaseModel):
    tenant: str
    project: str
    changes: list[str]
    seconds: float


def tenant_of(spec: ProjectSpec) -> Tenant:
    with connect(autocommit=True) as conn:
        tenant = get_tenant(conn, spec.tenant)
    if tenant is None:
        raise ScmError(f"no tenant {spec.tenant!r}: provision it first (scm_kind ado, with its Airflow connection "
                       f"ado_{spec.tenant})")
    if tenant.scm_kind != "ado":
        raise ScmError(f"tenant {spec.tenant!r} uses {tenant.scm_kind}, not ado: the Project Factory builds Azure "
                       "DevOps projects")
    return tenant


@contextmanager
def opened(spec: ProjectSpec, *, connection: ForgeConnection | None = None, policy: RetryPolicy | None = None,
           poll_s: float = 1.0) -> Iterator[ProjectFactory]:
    """A factory on the tenant's connection `ado_<tenant>`: its organisation, project name and credential."""
    conn = connection or read_connection("ado", spec.tenant)
    auth = BearerAuth(entra_token_provider()) if conn.auth == "entra" else PatAuth(conn.token)
    with AdoClient(conn.url, conn.scope, auth=auth, policy=policy) as client:
        yield ProjectFactory(client, spec, conn.scope, poll_s=poll_s)


def rotate_secret(tenant_id: str, actor: str) -> Any:
    def rotate(secret: str) -> None:
        with connect() as conn, conn.transaction():
            set_hook_secret(conn, tenant_id, secret)
            audit.append(conn, actor=actor, action="tenant.hook_secret.set", subject=tenant_id, tenant=tenant_id,
                         details={"by": "project factory", "reason": "service-hook subscriptions written"})
    return rotate


def record(tenant_id: str, project: str, changes: list[str], actor: str = "project-factory") -> None:
    """One audit entry for what a step (or a whole run) changed; nothing for a no-op."""
    if changes:
        with connect() as conn, conn.transaction():
            audit.append(conn, actor=actor, action="project_factory.apply", subject=tenant_id, tenant=tenant_id,
                         details={"project": project, "changes": changes})


def run_all(spec: ProjectSpec, *, actor: str = "project-factory", **open_kwargs: Any) -> FactoryReport:
    started = time.monotonic()
    tenant = tenant_of(spec)
    with opened(spec, **open_kwargs) as factory:
        project_id, changes = factory.ensure_project()
        repos, more = factory.ensure_repositories(project_id)
        changes += more
        pipeline_id, more = factory.ensure_pipeline(repos)
        changes += more
        changes += factory.ensure_policies(repos, pipeline_id)
        changes += factory.ensure_service_hooks(project_id, tenant.hook_username, rotate_secret(spec.tenant, actor))
        changes += factory.ensure_wiki(project_id, factory.onboarding(tenant.approvers))
    record(spec.tenant, factory.project, changes, actor)
    return FactoryReport(tenant=spec.tenant, project=factory.project, changes=changes,
                         seconds=round(time.monotonic() - started, 3))
