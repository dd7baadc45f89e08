"""The `ticketpilot` subcommands, each returning the text it prints; a problem a person must fix is a CliError
with that fix. `tenant add` writes the tenant row (as include.tenancy.provision does, plus an audit entry and a
secret kept across reruns) and its Airflow pool; `repo add` writes only into the tenant's embedded forge."""

from __future__ import annotations

import os
import secrets

import httpx
from pydantic import ValidationError

from include.airflow_client import AirflowApiError, AirflowClient
from include.scm.base import ScmError
from include.scm.local import LocalForge
from include.settings import get_settings
from include.store import audit
from include.store.db import connect
from include.store.tenants import Tenant, create_tenant, get_tenant, list_tenants, update_settings
from include.tenancy.naming import tenant_pool

HOOK_SECRET_ENV = "TICKETPILOT_HOOK_SECRET"
"""A hook secret of the person's choosing (else one is generated); never an argument, which `ps` would show."""


class CliError(Exception):
    """Something the person running the command must change; the message says what. `output` is what was
    done before it failed and must still be shown (a generated secret is shown only once)."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def tenant_list() -> str:
    with connect(autocommit=True) as conn:
        tenants = list_tenants(conn)
    if not tenants:
        return "no tenants yet"
    rows = [("TENANT", "FORGE", "DEFAULT REPO", "APPROVERS")]
    rows += [(t.tenant_id, t.scm_kind, t.default_repo, ", ".join(t.approvers) or "-") for t in tenants]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def tenant_show(tenant_id: str) -> str:
    tenant = _tenant(tenant_id)
    lines = [f"tenant:        {tenant.tenant_id}",
             f"forge:         {tenant.scm_kind}",
             f"default repo:  {tenant.default_repo}",
             f"approvers:     {', '.join(tenant.approvers) or '(none)'}"]
    if tenant.scm_kind == "local":
        forge = LocalForge.from_settings(tenant.tenant_id)
        root = forge.repo_path(tenant.default_repo).parent
        repos = sorted(p.name.removesuffix(".git") for p in root.glob("*.git")) if root.is_dir() else []
        lines.append(f"repositories:  {', '.join(repos) or '(none yet: ticketpilot repo add)'}")
    if tenant.ado_org or tenant.ado_project:
        lines.append(f"ado:           {tenant.ado_org or '?'} / {tenant.ado_project or '?'}")
    if tenant.github_owner:
        lines.append(f"github owner:  {tenant.github_owner}")
    if tenant.gitlab_namespace:
        lines.append(f"gitlab group:  {tenant.gitlab_namespace}")
    return "\n".join(lines + ["", hook_show(tenant_id)])


def tenant_add(tenant_id: str, default_repo: str, approvers: list[str], pool_slots: int) -> str:
    """Create a tenant on the embedded forge with its Airflow pool, or bring an existing one to these settings.
    The hook secret is generated once and printed once (only its SHA-256 is kept); a rerun keeps it unless
    TICKETPILOT_HOOK_SECRET names a new one."""
    chosen = os.environ.get(HOOK_SECRET_ENV) or None
    try:
        with connect(autocommit=True) as conn:
            before = get_tenant(conn, tenant_id)
            if before is not None and before.scm_kind != "local":
                raise CliError(f"tenant {tenant_id!r} uses {before.scm_kind}; its deployment provisions it")
            secret = chosen or (secrets.token_urlsafe(24) if before is None else None)
            with conn.transaction():
                if secret is not None:
                    after = create_tenant(conn, tenant_id, before.hook_username if before else tenant_id, secret,
                                          default_repo, approvers)
                else:
                    after = update_settings(conn, tenant_id, default_repo=default_repo, approvers=approvers)
                changes = _changes(before, after, rotated=before is not None and secret is not None)
                if changes:
                    audit.append(conn, actor=os.environ.get("USER", "cli"), action="tenant.add", subject=tenant_id,
                                 details={"changes": changes})
    except ValidationError as exc:
        raise CliError(f"tenant {tenant_id!r}: {exc.errors()[0]['loc'][-1]}: {exc.errors()[0]['msg']}") from exc
    what = "added" if before is None else f"updated: {', '.join(changes)}" if changes else "unchanged"
    lines = [f"{tenant_id}: {what} (pool {tenant_pool(tenant_id)})"]
    if secret is not None and chosen is None:
        lines.append(f"  hook secret: {secret}  (shown once, only its SHA-256 is kept; rotate with "
                     f"{HOOK_SECRET_ENV}=... ticketpilot tenant add {tenant_id} ...)")
    settings = get_settings()
    try:
        with AirflowClient(settings.airflow_api_url, settings.airflow_user, settings.airflow_password) as client:
            client.ensure_pool(tenant_pool(tenant_id), pool_slots, f"Agent steps of tenant {tenant_id}")
    except (httpx.HTTPError, AirflowApiError) as exc:
        raise CliError(f"tenant {tenant_id!r} is stored, but its Airflow pool could not be made at "
                       f"{settings.airflow_api_url} ({exc}); run the command again once Airflow answers",
                       output="\n".join(lines)) from exc
    return "\n".join(lines + ["", hook_show(tenant_id)])


def _changes(before: Tenant | None, after: Tenant, *, rotated: bool) -> list[str]:
    if before is None:
        return ["created"]
    changes = [f"{name} {getattr(before, name)!r} -> {getattr(after, name)!r}" for name in ("default_repo", "approvers")
               if getattr(before, name) != getattr(after, name)]
    return changes + (["hook secret rotated"] if rotated and before.hook_secret_sha256 != after.hook_secret_sha256
                      else [])


def repo_add(tenant_id: str, name: str, source: str, default_branch: str | None) -> str:
    tenant = _tenant(tenant_id)
    if tenant.scm_kind != "local":
        raise CliError(f"tenant {tenant_id!r} keeps its repositories on {tenant.scm_kind}, not in the embedded "
                       f"forge: tickets name them with a `repo:` tag; nothing to mirror")
    try:
        imported = LocalForge.from_settings(tenant_id).import_repo(name, source, default_branch)
    except ScmError as exc:
        raise CliError(f"could not add {name!r}: {exc}") from exc
    what = "added" if imported.created else "unchanged (already in the forge; nothing fetched)"
    return (f"{tenant_id}/{name}: {what}\n"
            f"  default branch {imported.default_branch} at {imported.tip[:12]}, {imported.commits} commit(s), "
            f"{len(imported.branches)} branch(es), {len(imported.tags)} tag(s)\n"
            f"  a ticket works on it with the tag `repo:{name}`"
            + ("" if name != tenant.default_repo else " (it is the tenant's default repository)"))


def hook_show(tenant_id: str) -> str:
    tenant = _tenant(tenant_id)
    base = f"{get_settings().airflow_api_url.rstrip('/')}/ticketpilot/hooks"
    lines = ["Azure DevOps service hook (Web Hooks, events \"Work item created\" and \"Work item updated\"):",
             f"  URL:       {base}/ado/{tenant.tenant_id}",
             f"  username:  {tenant.hook_username}",
             "  password:  the hook secret given when the tenant was provisioned (only its SHA-256 is stored)"]
    if tenant.github_owner:
        lines += ["GitHub webhook (Issues events, content type application/json):",
                  f"  URL:       {base}/github/{tenant.tenant_id}", "  secret:    the tenant's GitHub webhook secret"]
    if tenant.gitlab_namespace:
        lines += ["GitLab webhook (Issues events):",
                  f"  URL:       {base}/gitlab/{tenant.tenant_id}", "  token:     the tenant's GitLab hook token"]
    return "\n".join(lines)


def _tenant(tenant_id: str) -> Tenant:
    with connect(autocommit=True) as conn:
        tenant = get_tenant(conn, tenant_id)
    if tenant is None:
        raise CliError(f"no tenant {tenant_id!r}; `ticketpilot tenant list` shows the tenants")
    return tenant
