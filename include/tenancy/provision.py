"""Provision a tenant end to end: its row (hook credentials, approvers, SCM) and its Airflow pool.

The pool caps how many of the tenant's agent steps run at once, so one busy tenant cannot starve others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from include.airflow_client import AirflowClient
from include.store.db import connect
from include.store.routing import set_policy
from include.store.tenants import create_tenant
from include.tenancy.naming import tenant_pool
from model_serving.router.models import RoutingPolicy


@dataclass(frozen=True)
class TenantSpec:
    tenant_id: str
    hook_username: str
    hook_secret: str
    default_repo: str
    approvers: list[str] = field(default_factory=list)
    scm_kind: str = "local"
    pool_slots: int = 4
    ado_org: str | None = None  # deliveries naming another organisation or project are refused
    ado_project: str | None = None
    ado_pipeline_id: int | None = None  # the Azure Pipelines pipeline ticket branches run in (ado tenants)
    routing_policy: RoutingPolicy | None = None  # models, fallbacks, canary, data boundary (None: keep as is)
    github_owner: str | None = None  # GitHub issues hook: deliveries from outside this owner (or owner/repo) refused
    github_webhook_secret: str | None = field(default=None, repr=False)  # stored Fernet-encrypted (needs the key)
    gitlab_namespace: str | None = None  # GitLab issue hook: projects outside this group (or project) refused
    gitlab_token: str | None = field(default=None, repr=False)  # the hook's secret token, stored as its SHA-256


def provision(spec: TenantSpec, airflow: AirflowClient) -> None:
    """Idempotent: safe to run on every start."""
    with connect() as conn, conn.transaction():
        create_tenant(conn, spec.tenant_id, spec.hook_username, spec.hook_secret, spec.default_repo,
                      spec.approvers, scm_kind=spec.scm_kind, ado_org=spec.ado_org, ado_project=spec.ado_project,
                      ado_pipeline_id=spec.ado_pipeline_id, github_owner=spec.github_owner,
                      github_webhook_secret=spec.github_webhook_secret, gitlab_namespace=spec.gitlab_namespace,
                      gitlab_token=spec.gitlab_token)
        if spec.routing_policy is not None:
            set_policy(conn, spec.tenant_id, spec.routing_policy, actor="provisioning")
    airflow.ensure_pool(tenant_pool(spec.tenant_id), spec.pool_slots,
                        f"Agent steps of tenant {spec.tenant_id}")
