"""Reconcile the platform to a Team Directory (include/contracts/directory.py). Idempotent: a second apply of
the same file changes nothing and says so. What the directory lists, it owns:

- the tenant row (created on the embedded forge when new, with a hook secret shown once; its default
  repository and its R3 named approvers kept to the file) and its Airflow pool's size;
- the roles people hold in the tenant (`ticketpilot.tenant_roles`). A tenant the directory manages accepts gate
  decisions only from holders of a gate role, on every channel (include/store/roles.py), so a person taken out
  of the file loses the right to approve on this apply;
- the tenant's monthly model budget and the data boundary of its routing policy;
- its repositories: mirrored with history into the embedded forge when new and a `source` is given, and their
  CODEOWNERS, proposed as a pull request on the tenant's forge for the repository's people to review;
- for an Azure DevOps tenant, one security group per role in its project, with exactly the role's people as
  members (include/directory/ado_groups.py);
- a tenant the directory managed and no longer lists keeps its data but loses every role and named approver
  (and its ADO groups their members): its gates then refuse all decisions until it is listed again (fail closed).

Every change is appended to the audit log, one entry per tenant and apply, with each change listed.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from pydantic import BaseModel, Field

from include.airflow_client import AirflowApiError, AirflowClient
from include.contracts.directory import Directory, Role, TenantEntry
from include.directory import ado_groups
from include.directory.ado_groups import GraphGroups
from include.maintenance import retention
from include.scm import adapter_for
from include.scm.ado.auth import BearerAuth, PatAuth, entra_token_provider
from include.scm.ado.client import AdoClient
from include.scm.base import FileChange, ScmAdapter, ScmError
from include.scm.connections import read_connection
from include.scm.local import LocalForge
from include.store import audit, roles
from include.store.db import connect
from include.store.routing import get_policy, set_policy
from include.store.tenants import create_tenant, get_tenant, update_settings
from include.tenancy.naming import tenant_pool
from model_serving.router import ledger

CODEOWNERS_PATH = "CODEOWNERS"
CODEOWNERS_BRANCH = "ticketpilot/codeowners"


class Applied(BaseModel):
    changes: list[str] = Field(default_factory=list)
    """One line per change made (or, in a dry run, that would be made)."""
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    """Hook secrets of tenants created now: shown once, only their SHA-256 is kept."""
    pending: list[str] = Field(default_factory=list)
    """What could not be done, each with the reason and the fix."""


class Reconciler:
    def __init__(self, directory: Directory, *, base_dir: Path, airflow: AirflowClient | None, actor: str,
                 dry_run: bool = False, create_tenants: bool = True) -> None:
        self.directory = directory
        self.base_dir = base_dir
        self.airflow = airflow
        self.actor = actor
        self.dry_run = dry_run
        self.create_tenants = create_tenants
        self.result = Applied()
        self._unlisted_ids: list[str] = []

    def apply(self) -> Applied:
        with connect(autocommit=True) as conn:
            for entry in self.directory.tenants:
                self._tenant(conn, entry)
            listed = {t.id for t in self.directory.tenants}
            self._unlisted_ids = [t for t in roles.managed_tenants(conn) if t not in listed]
            for gone in self._unlisted_ids:
                self._unlisted(conn, gone)
        for entry in self.directory.tenants:
            self._pool(entry)
            self._repositories(entry)
            self._ado_groups(entry.id, {role: {p: self.directory.person(p).email
                                               for p in self.directory.members(names)}
                                        for role, names in entry.roles.items()})
        for gone in self._unlisted_ids:
            self._ado_groups(gone, {})
        return self.result

    # --- the tenant's row, roles, budget and data boundary: one transaction, one audit entry -------------

    def _tenant(self, conn: psycopg.Connection, entry: TenantEntry) -> None:
        named = self.directory.members(entry.roles.get(Role.R3_APPROVER, []))
        changes: list[str] = []
        with conn.transaction():
            current = get_tenant(conn, entry.id)
            if current is None:
                if not self.create_tenants:
                    self.result.pending.append(f"{entry.id}: new tenant, not created here: run `ticketpilot directory "
                                               "apply` to create it (its hook secret is shown once)")
                    return
                changes.append("created on the embedded forge")
                if not self.dry_run:
                    secret = secrets.token_urlsafe(24)
                    create_tenant(conn, entry.id, entry.id, secret, entry.default_repo, named)
                    self.result.secrets[entry.id] = secret
            else:
                for name, want in (("default_repo", entry.default_repo), ("approvers", named)):
                    if getattr(current, name) != want:
                        changes.append(f"{name} {getattr(current, name)!r} -> {want!r}")
                if changes and not self.dry_run:
                    update_settings(conn, entry.id, default_repo=entry.default_repo, approvers=named)
            changes += self._grants(conn, entry)
            changes += self._budget(conn, entry)
            changes += self._boundary(conn, entry)
            changes += self._retention(conn, entry)
            if not self.dry_run and roles.set_directory_managed(conn, entry.id, True):
                changes.append("managed by the Team Directory from now on")
            if changes and not self.dry_run:
                audit.append(conn, actor=self.actor, action="directory.apply", subject=entry.id, tenant=entry.id,
                             details={"changes": changes})
        self.result.changes += [f"{entry.id}: {change}" for change in changes]

    def _grants(self, conn: psycopg.Connection, entry: TenantEntry) -> list[str]:
        have, want = roles.grants(conn, entry.id), self.directory.grants(entry)
        email = {person: (self.directory.person(person).email or "").lower() or None for person, _ in want}
        changes = self._emails(conn, entry.id, email)  # before new grants, which carry the new e-mail already
        for person, role in sorted(want - have):
            changes.append(f"grant {role.value} to {person}")
            if not self.dry_run:
                roles.grant(conn, entry.id, person, role, email[person])
        for person, role in sorted(have - want):
            changes.append(f"revoke {role.value} from {person}")
            if not self.dry_run:
                roles.revoke(conn, entry.id, person, role)
        return changes

    def _emails(self, conn: psycopg.Connection, tenant_id: str, email: dict[str, str | None]) -> list[str]:
        """Keep each person's sign-in e-mail (how their ADO PR votes name them) to the file."""
        changes = []
        for person, recorded in sorted(roles.emails(conn, tenant_id).items()):
            if person in email and recorded != email[person]:
                changes.append(f"e-mail of {person} {recorded!r} -> {email[person]!r}")
                if not self.dry_run:
                    roles.set_email(conn, tenant_id, person, email[person])
        return changes

    def _budget(self, conn: psycopg.Connection, entry: TenantEntry) -> list[str]:
        if entry.monthly_budget_usd is None:
            return []
        has_ledger = conn.execute("SELECT 1 FROM ticketpilot.tenant_schemas WHERE tenant_id = %s",
                                  (entry.id,)).fetchone() is not None
        if not has_ledger and not self.dry_run:
            ledger.ensure_tenant_schema(conn, entry.id)
        query = sql.SQL("SELECT limit_usd, period FROM {} WHERE scope = 'tenant' AND scope_key = %s").format(
            ledger.table(entry.id, "budgets"))
        found = [] if not has_ledger else ledger.rows(conn, query, (entry.id,))
        want = Decimal(entry.monthly_budget_usd)
        if found and found[0]["limit_usd"] == want and found[0]["period"] == "month":
            return []
        if not self.dry_run:
            ledger.set_budget(conn, entry.id, "tenant", entry.id, want, "month")
        before = f"{found[0]['limit_usd']:f} USD per {found[0]['period']}" if found else "none"
        return [f"monthly budget {before} -> {want:f} USD"]

    def _boundary(self, conn: psycopg.Connection, entry: TenantEntry) -> list[str]:
        if entry.data_boundary is None:
            return []
        policy = get_policy(conn, entry.id)
        if policy is None:
            if entry.data_boundary != "any":
                self.result.pending.append(
                    f"{entry.id}: data_boundary {entry.data_boundary!r} not applied: the tenant has no routing policy "
                    "to carry it (its calls go to the platform's configured model); give it a routing policy first")
            return []
        if policy.data_boundary == entry.data_boundary:
            return []
        if not self.dry_run:
            set_policy(conn, entry.id, policy.model_copy(update={"data_boundary": entry.data_boundary}),
                       actor=self.actor)
        return [f"data boundary {policy.data_boundary!r} -> {entry.data_boundary!r}"]

    def _retention(self, conn: psycopg.Connection, entry: TenantEntry) -> list[str]:
        changes = []
        have = retention.tenant_days(conn, entry.id)
        for data_class in retention.TENANT_CLASSES:
            want = entry.retention_days.get(data_class.value)
            default = retention.DEFAULT_DAYS[data_class]
            if have[data_class] == (want or default):
                continue
            if not self.dry_run:
                retention.set_days(conn, entry.id, data_class, want)
            changes.append(f"retention of {data_class.value} {have[data_class]} -> {want or default} days"
                           + ("" if want else " (the default)"))
        return changes

    def _unlisted(self, conn: psycopg.Connection, tenant_id: str) -> None:
        """A tenant the directory managed and no longer lists: every right goes, the data stays."""
        with conn.transaction():
            held = sorted(roles.grants(conn, tenant_id))
            current = get_tenant(conn, tenant_id)
            changes = [f"revoke {role.value} from {person}" for person, role in held]
            if current is not None and current.approvers:
                changes.append(f"approvers {current.approvers!r} -> []")
            if changes and not self.dry_run:
                for person, role in held:
                    roles.revoke(conn, tenant_id, person, role)
                if current is not None:
                    update_settings(conn, tenant_id, default_repo=current.default_repo, approvers=[])
                audit.append(conn, actor=self.actor, action="directory.apply", subject=tenant_id, tenant=tenant_id,
                             details={"changes": changes, "unlisted": True})
        self.result.changes += [f"{tenant_id}: {change} (no longer in the directory)" for change in changes]

    # --- outside the database: the pool, the repositories, CODEOWNERS ----------------------------------

    def _pool(self, entry: TenantEntry) -> None:
        if self.airflow is None or not self._exists(entry.id):
            return
        try:
            self._size_pool(self.airflow, entry)
        except (httpx.HTTPError, AirflowApiError) as exc:
            self.result.pending.append(f"{entry.id}: pool {tenant_pool(entry.id)} not sized, Airflow did not answer "
                                       f"({exc}); apply again once it does")

    def _size_pool(self, airflow: AirflowClient, entry: TenantEntry) -> None:
        name = tenant_pool(entry.id)
        response = airflow.request("GET", f"/api/v2/pools/{name}", ok=(200, 404))
        slots = response.json().get("slots") if response.status_code == 200 else None
        if slots == entry.pool_slots:
            return
        if not self.dry_run:
            if slots is None:
                airflow.ensure_pool(name, entry.pool_slots, f"Agent steps of tenant {entry.id}")
            else:
                airflow.request("PATCH", f"/api/v2/pools/{name}", params={"update_mask": "slots"},
                                     json={"pool": name, "slots": entry.pool_slots})
        self.result.changes.append(f"{entry.id}: pool {name} {slots if slots is not None else 'new'} -> "
                                   f"{entry.pool_slots} slot(s)")

    def _repositories(self, entry: TenantEntry) -> None:
        if not self._exists(entry.id):
            return
        with connect(autocommit=True) as conn:
            tenant = get_tenant(conn, entry.id)
        assert tenant is not None
        for repo in entry.repositories:
            try:
                if tenant.scm_kind == "local" and not self._mirrored(entry.id, repo.name, repo.source,
                                                                     repo.default_branch):
                    continue
                if repo.owners:
                    self._codeowners(adapter_for(entry.id, tenant.scm_kind, repo.name), entry, repo.name,
                                     repo.owners)
            except ScmError as exc:
                self.result.pending.append(f"{entry.id}/{repo.name}: {exc}")

    def _mirrored(self, tenant_id: str, name: str, source: str | None, default_branch: str | None) -> bool:
        """Whether the repository is in the tenant's embedded forge (mirrored now when new and given a source)."""
        forge = LocalForge.from_settings(tenant_id)
        if (forge.repo_path(name) / "HEAD").is_file():
            return True
        if source is None:
            self.result.pending.append(f"{tenant_id}/{name}: not in the embedded forge and no `source` to mirror "
                                       "it from: add `source:` (a path or git URL) or `ticketpilot repo add` it")
            return False
        self.result.changes.append(f"{tenant_id}/{name}: mirrored with its history from {source}")
        if self.dry_run:
            return False
        local = self.base_dir / source
        imported = forge.import_repo(name, str(local) if "://" not in source and local.exists() else source,
                                     default_branch)
        self.result.changes[-1] += f" ({imported.commits} commit(s), default branch {imported.default_branch})"
        return True

    def _codeowners(self, scm: ScmAdapter, entry: TenantEntry, repo: str, owners: dict[str, list[str]]) -> None:
        """Propose the CODEOWNERS the directory implies, unless the default branch already has it."""
        text = self.codeowners(owners)
        base = scm.default_branch(repo)
        if _file(scm, repo, base) == text:
            return
        open_pr = scm.find_pr(repo, CODEOWNERS_BRANCH)
        if open_pr is not None and open_pr.status == "active" and _file(scm, repo, CODEOWNERS_BRANCH) == text:
            return  # already proposed, waiting for review
        self.result.changes.append(f"{entry.id}/{repo}: CODEOWNERS proposed on {CODEOWNERS_BRANCH}")
        if self.dry_run:
            return
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        scm.ensure_branch(repo, CODEOWNERS_BRANCH, base)
        scm.commit_files(repo, CODEOWNERS_BRANCH, [FileChange(path=CODEOWNERS_PATH, content=text)],
                         "Update CODEOWNERS from the Team Directory", idempotency_key=f"codeowners-{digest}")
        pr = scm.open_pr(repo, CODEOWNERS_BRANCH, base, "Update CODEOWNERS from the Team Directory",
                         "The Team Directory names these owners for the repository's paths. Review and merge to "
                         "make them the code owners; the directory proposes again whenever its owners change.",
                         draft=False, workitem_id=None)
        self.result.changes[-1] += f" (PR {pr.pr_id})"

    def codeowners(self, owners: dict[str, list[str]]) -> str:
        """CODEOWNERS text: one line per path in the directory's order; people by e-mail where known (every forge
        resolves an e-mail), else `@<id>`; teams expanded to their members."""
        lines = ["# Generated from the Team Directory by `ticketpilot directory apply`; edit the directory instead."]
        for path, names in owners.items():
            people = self.directory.members(names)
            lines.append(" ".join([path, *(self.directory.person(p).email or f"@{p}" for p in people)]))
        return "\n".join(lines) + "\n"

    def _ado_groups(self, tenant_id: str, wanted: dict[Role, dict[str, str | None]]) -> None:
        """An Azure DevOps tenant's role groups in its project (include/directory/ado_groups.py)."""
        with connect(autocommit=True) as conn:
            tenant = get_tenant(conn, tenant_id)
        if tenant is None or tenant.scm_kind != "ado":
            return
        try:
            forge = read_connection("ado", tenant_id)
            auth = BearerAuth(entra_token_provider()) if forge.auth == "entra" else PatAuth(forge.token)
            with AdoClient(forge.url, forge.scope, auth=auth) as client:
                changes, pending = ado_groups.reconcile(GraphGroups(client, forge.url, forge.scope), wanted,
                                                        dry_run=self.dry_run)
        except ScmError as exc:
            self.result.pending.append(f"{tenant_id}: Azure DevOps groups not reconciled: {exc}")
            return
        self.result.changes += [f"{tenant_id}: {change}" for change in changes]
        self.result.pending += [f"{tenant_id}: {item}" for item in pending]
        if changes and not self.dry_run:
            with connect() as conn, conn.transaction():
                audit.append(conn, actor=self.actor, action="directory.apply", subject=tenant_id, tenant=tenant_id,
                             details={"changes": changes, "forge": "ado"})

    def _exists(self, tenant_id: str) -> bool:
        with connect(autocommit=True) as conn:
            return get_tenant(conn, tenant_id) is not None


def _file(scm: ScmAdapter, repo: str, branch: str) -> str | None:
    """CODEOWNERS as `branch` has it, None when it has none."""
    with tempfile.TemporaryDirectory(prefix="tp-codeowners-") as tmp:
        path = scm.checkout(repo, branch, Path(tmp) / "w") / CODEOWNERS_PATH
        return path.read_text(encoding="utf-8") if path.is_file() else None


def apply(directory: Directory, *, base_dir: Path, airflow: AirflowClient | None, actor: str,
          dry_run: bool = False, create_tenants: bool = True) -> Applied:
    return Reconciler(directory, base_dir=base_dir, airflow=airflow, actor=actor, dry_run=dry_run,
                      create_tenants=create_tenants).apply()
