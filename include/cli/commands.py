"""The `ticketpilot` subcommands, each returning the text it prints; a problem a person must fix is a CliError
with that fix. `tenant add` writes the tenant row (as include.tenancy.provision does, plus an audit entry and a
secret kept across reruns) and its Airflow pool; `repo add` writes only into the tenant's embedded forge."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from pydantic import ValidationError

from include.airflow_client import AirflowApiError, AirflowClient
from include.contracts.directory import Directory
from include.directory.apply import apply as reconcile
from include.directory.load import DirectoryError, load
from include.scm.base import ScmError
from include.scm.local import LocalForge
from include.settings import get_settings
from include.store import audit
from include.store.db import connect
from include.store.tenants import Tenant, create_tenant, get_tenant, list_tenants, update_settings
from include.tenancy import pause
from include.tenancy.naming import tenant_pool
from include.tenancy.pause import held_rows

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
    rows = [("TENANT", "STATE", "FORGE", "DEFAULT REPO", "APPROVERS")]
    rows += [(t.tenant_id, "paused" if t.paused_at else "active", t.scm_kind, t.default_repo,
              ", ".join(t.approvers) or "-") for t in tenants]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def tenant_show(tenant_id: str) -> str:
    tenant = _tenant(tenant_id)
    lines = [f"tenant:        {tenant.tenant_id}",
             f"forge:         {tenant.scm_kind}",
             f"default repo:  {tenant.default_repo}",
             f"approvers:     {', '.join(tenant.approvers) or '(none)'}"]
    if tenant.paused_at is not None:
        with connect(autocommit=True) as conn:
            held = held_rows(conn, tenant.tenant_id)
        lines.append(f"paused:        since {tenant.paused_at:%Y-%m-%d %H:%M %Z} by {tenant.paused_by}: "
                     f"{tenant.paused_reason}; {held} delivery(ies) held, {len(tenant.paused_dags)} DAG(s) paused")
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
                    audit.append(conn, actor=_actor(), action="tenant.add", subject=tenant_id, tenant=tenant_id,
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


def tenant_pause(tenant_id: str, reason: str) -> str:
    _tenant(tenant_id)
    with _airflow("pause") as client:
        outcome = pause.pause(client, tenant_id, by=_actor(), reason=reason)
    t = outcome.tenant
    head = f"{tenant_id}: paused" if outcome.changed else f"{tenant_id}: unchanged (paused since {t.paused_at:%c})"
    return (f"{head}\n  by {t.paused_by}: {t.paused_reason}\n"
            f"  {len(outcome.dags)} ticket DAG(s) paused now, {len(t.paused_dags)} in all; a running step finishes, "
            f"no further step starts\n  new deliveries are stored and held ({outcome.held} now); "
            f"`ticketpilot tenant resume {tenant_id}` starts them")


def tenant_resume(tenant_id: str) -> str:
    _tenant(tenant_id)
    with _airflow("resume") as client:
        outcome = pause.resume(client, tenant_id, by=_actor())
    if not outcome.changed:
        return f"{tenant_id}: unchanged (not paused)"
    return (f"{tenant_id}: resumed\n  {len(outcome.dags)} ticket DAG(s) unpaused; {outcome.held} held "
            "delivery(ies) handed to the spawner")


@contextmanager
def _airflow(verb: str) -> Iterator[AirflowClient]:
    settings = get_settings()
    try:
        with AirflowClient(settings.airflow_api_url, settings.airflow_user, settings.airflow_password) as client:
            yield client
    except (httpx.HTTPError, AirflowApiError) as exc:
        raise CliError(f"could not {verb} through Airflow at {settings.airflow_api_url} ({exc}); what was done is "
                       "kept: run the command again once Airflow answers") from exc


def _actor() -> str:
    return os.environ.get("USER", "cli")


def directory_check(path: Path) -> str:
    directory = _directory(path)
    grants = sum(len(directory.grants(t)) for t in directory.tenants)
    return (f"{path}: valid: {len(directory.people)} people, {len(directory.teams)} team(s), "
            f"{len(directory.tenants)} tenant(s), {grants} role grant(s)")


def directory_apply(path: Path, dry_run: bool) -> str:
    directory = _directory(path)
    settings = get_settings()
    with AirflowClient(settings.airflow_api_url, settings.airflow_user, settings.airflow_password) as client:
        try:
            applied = reconcile(directory, base_dir=path.resolve().parent, airflow=client, actor=_actor(),
                                dry_run=dry_run)
        except (ScmError, ValidationError) as exc:
            raise CliError(f"{path}: {exc}") from exc
    verb = "would change" if dry_run else "changed"
    lines = [f"{path}: {verb} {len(applied.changes)} thing(s)" if applied.changes else f"{path}: nothing to change"]
    lines += [f"  {change}" for change in applied.changes]
    for tenant_id, secret in applied.secrets.items():
        lines.append(f"  {tenant_id} hook secret: {secret}  (shown once, only its SHA-256 is kept; `ticketpilot hook "
                     f"show {tenant_id}` says where it goes)")
    lines += [f"  not done: {item}" for item in applied.pending]
    if applied.pending:
        raise CliError(f"{len(applied.pending)} thing(s) not done, listed above with the fix; what was done is kept",
                       output="\n".join(lines))
    return "\n".join(lines)


def _directory(path: Path) -> Directory:
    try:
        return load(path)
    except DirectoryError as exc:
        raise CliError(str(exc)) from exc


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
