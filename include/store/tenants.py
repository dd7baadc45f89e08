"""Tenants and the credentials their service hooks present.

ADO signs nothing: a delivery is authentic only through the HTTP Basic credentials configured on the
subscription, optionally reinforced by a second secret in a custom header (`HOOK_SECRET_HEADER`, set in the
subscription's `httpHeaders`), which a tenant that configures it must always send. We keep the SHA-256 of
each secret, never the secret. A plain digest (no salt, no
stretching) is enough because hook secrets are generated machine secrets, not guessable passwords, and it
keeps the check on the ingress hot path to microseconds.

GitLab issue hooks present a shared token (`X-Gitlab-Token`): kept as its SHA-256 the same way. GitHub signs
the body instead (`X-Hub-Signature-256`, an HMAC-SHA256 keyed with the webhook secret), so verifying needs
the secret itself, not a digest. It is stored in the tenant row encrypted with Airflow's Fernet key
(`airflow.models.crypto.get_fernet`, `[core] fernet_key`), the key that already protects Airflow's
connections and variables, rather than read from the tenant's Airflow connection: the row keeps everything a
delivery is checked against (a cached row still authenticates on its own, one fresh read picks up a rotated
secret), and the hook path touches no other store than the platform database (no metadata-database or
secrets-backend round trip on a path meant to answer in milliseconds). Without a Fernet key nothing is stored
in clear: provisioning a GitHub secret fails with the fix. `airflow rotate-fernet-key` re-encrypts only
Airflow's own tables: keep the old key in the list until the tenants are provisioned again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.contracts.ticket import TENANT_PATTERN

HOOK_SECRET_HEADER = "X-Ticketpilot-Hook-Secret"
_COLUMNS = ("tenant_id, hook_username, hook_secret_sha256, scm_kind, default_repo, approvers, ado_org, ado_project, "
            "hook_header_sha256, hook_rate_per_s, hook_burst, ado_pipeline_id, github_owner, github_secret_fernet, "
            "gitlab_namespace, gitlab_token_sha256, paused_at, paused_by, paused_reason, paused_dags")
_NO_MATCH = hashlib.sha256(b"ticketpilot: no such tenant").hexdigest()
_NO_SECRET = b"ticketpilot: no github secret"
GITHUB_OWNER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(/[A-Za-z0-9._-]{1,100})?$"
"""A GitHub user or organisation, optionally with one of its repositories: `acme` or `acme/tickets`."""
GITLAB_NAMESPACE_PATTERN = r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$"
"""A GitLab group path, subgroups included (`acme/platform`), or a project path."""

log = logging.getLogger(__name__)


class Tenant(BaseModel):
    """A tenant row; the secret digest travels with it so a cached row can authenticate on its own."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str = Field(pattern=TENANT_PATTERN)
    hook_username: str = Field(min_length=1)
    hook_secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)
    scm_kind: str = "local"
    default_repo: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    approvers: list[str] = Field(default_factory=list)
    ado_org: str | None = None
    ado_project: str | None = None
    hook_header_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", repr=False)
    hook_rate_per_s: float | None = Field(default=None, gt=0)
    hook_burst: int | None = Field(default=None, ge=1)
    ado_pipeline_id: int | None = Field(default=None, gt=0)
    """The Azure Pipelines pipeline a ticket branch runs in before review (ado tenants); None: no ADO pipeline."""
    github_owner: str | None = Field(default=None, pattern=GITHUB_OWNER_PATTERN)
    """Where the tenant's GitHub issues live: an owner (any of its repositories) or `owner/repo`."""
    github_secret_fernet: str | None = Field(default=None, min_length=1, repr=False)
    """The GitHub webhook secret, Fernet-encrypted with Airflow's key; None: the GitHub hook refuses all."""
    gitlab_namespace: str | None = Field(default=None, pattern=GITLAB_NAMESPACE_PATTERN)
    """Where the tenant's GitLab issues live: a group (its projects and subgroups) or a project path."""
    gitlab_token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", repr=False)
    """SHA-256 of the GitLab hook's secret token; None: the GitLab hook refuses all."""
    paused_at: datetime | None = None
    """Set while the tenant is paused: deliveries are stored, nothing new is spawned (include/tenancy/pause.py)."""
    paused_by: str | None = None
    paused_reason: str | None = None
    paused_dags: list[str] = Field(default_factory=list)
    """The ticket DAGs the pause paused in Airflow, and that a resume unpauses."""

    @model_validator(mode="after")
    def _pipeline_needs_ado(self) -> Tenant:
        if self.ado_pipeline_id is not None and self.scm_kind != "ado":
            raise ValueError(f"ado_pipeline_id is set but tenant {self.tenant_id!r} uses scm_kind "
                             f"{self.scm_kind!r}: an Azure Pipelines pipeline needs scm_kind 'ado'")
        return self

    @model_validator(mode="after")
    def _hook_secrets_need_a_scope(self) -> Tenant:
        """A tracker hook is only enabled together with the owner/namespace its deliveries must come from."""
        if self.github_secret_fernet is not None and self.github_owner is None:
            raise ValueError(f"tenant {self.tenant_id!r} has a GitHub webhook secret but no github_owner: "
                             "declare the owner (or owner/repo) its issues come from")
        if self.gitlab_token_sha256 is not None and self.gitlab_namespace is None:
            raise ValueError(f"tenant {self.tenant_id!r} has a GitLab hook token but no gitlab_namespace: "
                             "declare the group (or project) its issues come from")
        return self


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_tenant(
    conn: psycopg.Connection,
    tenant_id: str,
    hook_username: str,
    hook_secret: str,
    default_repo: str,
    approvers: list[str],
    scm_kind: str = "local",
    *,
    ado_org: str | None = None,
    ado_project: str | None = None,
    header_secret: str | None = None,
    hook_rate_per_s: float | None = None,
    hook_burst: int | None = None,
    ado_pipeline_id: int | None = None,
    github_owner: str | None = None,
    github_webhook_secret: str | None = None,
    gitlab_namespace: str | None = None,
    gitlab_token: str | None = None,
) -> Tenant:
    """Create the tenant or update it in place to exactly these settings (idempotent: re-running the same
    provisioning rotates nothing; leaving out an optional setting clears it)."""
    tenant = Tenant(tenant_id=tenant_id, hook_username=hook_username, hook_secret_sha256=secret_digest(hook_secret),
                    scm_kind=scm_kind, default_repo=default_repo, approvers=approvers, ado_org=ado_org,
                    ado_project=ado_project,
                    hook_header_sha256=secret_digest(header_secret) if header_secret is not None else None,
                    hook_rate_per_s=hook_rate_per_s, hook_burst=hook_burst, ado_pipeline_id=ado_pipeline_id,
                    github_owner=github_owner,
                    github_secret_fernet=encrypt_secret(github_webhook_secret)
                    if github_webhook_secret is not None else None,
                    gitlab_namespace=gitlab_namespace,
                    gitlab_token_sha256=secret_digest(gitlab_token) if gitlab_token is not None else None)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, scm_kind, default_repo, "
            "approvers, ado_org, ado_project, hook_header_sha256, hook_rate_per_s, hook_burst, ado_pipeline_id, "
            "github_owner, github_secret_fernet, gitlab_namespace, gitlab_token_sha256) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (tenant_id) DO UPDATE SET "
            "hook_username = EXCLUDED.hook_username, hook_secret_sha256 = EXCLUDED.hook_secret_sha256, "
            "scm_kind = EXCLUDED.scm_kind, default_repo = EXCLUDED.default_repo, approvers = EXCLUDED.approvers, "
            "ado_org = EXCLUDED.ado_org, ado_project = EXCLUDED.ado_project, "
            "hook_header_sha256 = EXCLUDED.hook_header_sha256, hook_rate_per_s = EXCLUDED.hook_rate_per_s, "
            "hook_burst = EXCLUDED.hook_burst, ado_pipeline_id = EXCLUDED.ado_pipeline_id, "
            "github_owner = EXCLUDED.github_owner, github_secret_fernet = EXCLUDED.github_secret_fernet, "
            "gitlab_namespace = EXCLUDED.gitlab_namespace, gitlab_token_sha256 = EXCLUDED.gitlab_token_sha256 "
            f"RETURNING {_COLUMNS}",
            (tenant.tenant_id, tenant.hook_username, tenant.hook_secret_sha256, tenant.scm_kind,
             tenant.default_repo, tenant.approvers, tenant.ado_org, tenant.ado_project, tenant.hook_header_sha256,
             tenant.hook_rate_per_s, tenant.hook_burst, tenant.ado_pipeline_id, tenant.github_owner,
             tenant.github_secret_fernet, tenant.gitlab_namespace, tenant.gitlab_token_sha256),
        )
        row = cur.fetchone()
    return Tenant.model_validate(row)


def update_settings(conn: psycopg.Connection, tenant_id: str, *, default_repo: str, approvers: list[str]) -> Tenant:
    """Change what a person edits after provisioning, keeping every credential as it is."""
    current = get_tenant(conn, tenant_id)
    if current is None:
        raise LookupError(f"no tenant {tenant_id!r}")
    changed = current.model_copy(update={"default_repo": default_repo, "approvers": approvers})
    Tenant.model_validate(changed.model_dump())  # the same checks as a new row
    conn.execute("UPDATE ticketpilot.tenants SET default_repo = %s, approvers = %s WHERE tenant_id = %s",
                 (default_repo, approvers, tenant_id))
    return changed


def set_hook_secret(conn: psycopg.Connection, tenant_id: str, secret: str) -> None:
    """Replace the tenant's hook secret (only its SHA-256 is kept): for whoever writes it into the tracker at once,
    as the Project Factory does into the project's service-hook subscriptions."""
    if conn.execute("UPDATE ticketpilot.tenants SET hook_secret_sha256 = %s WHERE tenant_id = %s",
                    (secret_digest(secret), tenant_id)).rowcount != 1:
        raise LookupError(f"no tenant {tenant_id!r}")


def set_paused(conn: psycopg.Connection, tenant_id: str, *, by: str, reason: str) -> tuple[Tenant, bool]:
    """Mark the tenant paused (a repeat keeps the first pause's time, person and reason); (row, newly paused)."""
    with conn.cursor(row_factory=dict_row) as cur:
        before = cur.execute("SELECT paused_at FROM ticketpilot.tenants WHERE tenant_id = %s FOR UPDATE",
                             (tenant_id,)).fetchone()
        if before is None:
            raise LookupError(f"no tenant {tenant_id!r}")
        row = cur.execute(
            "UPDATE ticketpilot.tenants SET paused_at = COALESCE(paused_at, now()), paused_by = COALESCE(paused_by, "
            f"%s), paused_reason = COALESCE(paused_reason, %s) WHERE tenant_id = %s RETURNING {_COLUMNS}",
            (by, reason, tenant_id)).fetchone()
    return Tenant.model_validate(row), before["paused_at"] is None


def add_paused_dags(conn: psycopg.Connection, tenant_id: str, dag_ids: list[str]) -> None:
    """Remember DAGs the pause paused (kept across repeats of the pause, without duplicates)."""
    conn.execute("UPDATE ticketpilot.tenants SET paused_dags = ARRAY(SELECT DISTINCT unnest(paused_dags || %s::text[]) "
                 "ORDER BY 1) WHERE tenant_id = %s", (dag_ids, tenant_id))


def clear_paused(conn: psycopg.Connection, tenant_id: str) -> Tenant:
    """Mark the tenant running again; the row as it was before, so the caller can unpause its DAGs."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM ticketpilot.tenants WHERE tenant_id = %s FOR UPDATE",
                          (tenant_id,)).fetchone()
        if row is None:
            raise LookupError(f"no tenant {tenant_id!r}")
        cur.execute("UPDATE ticketpilot.tenants SET paused_at = NULL, paused_by = NULL, paused_reason = NULL, "
                    "paused_dags = '{}' WHERE tenant_id = %s", (tenant_id,))
    return Tenant.model_validate(row)


def get_tenant(conn: psycopg.Connection, tenant_id: str) -> Tenant | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM ticketpilot.tenants WHERE tenant_id = %s", (tenant_id,)).fetchone()
    return Tenant.model_validate(row) if row else None


def list_tenants(conn: psycopg.Connection) -> list[Tenant]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM ticketpilot.tenants ORDER BY tenant_id").fetchall()
    return [Tenant.model_validate(row) for row in rows]


def authenticate(tenant: Tenant | None, username: str, secret: str) -> bool:
    """Whether the credentials are the tenant's hook credentials, in time independent of where they differ.

    An unknown tenant (None) is compared against a digest nothing hashes to, so it costs the same as a
    wrong secret and the answer cannot reveal which tenants exist.
    """
    expected_user = tenant.hook_username if tenant else ""
    expected_digest = tenant.hook_secret_sha256 if tenant else _NO_MATCH
    user_ok = hmac.compare_digest(username.encode(), expected_user.encode())
    secret_ok = hmac.compare_digest(secret_digest(secret).encode(), expected_digest.encode())
    return tenant is not None and user_ok and secret_ok


def check_header_secret(tenant: Tenant, presented: str | None) -> bool:
    """Whether the custom-header secret is right: always when the tenant configured none, else only when it
    was sent and matches, compared in constant time like the Basic secret."""
    if tenant.hook_header_sha256 is None:
        return True
    digest = secret_digest(presented) if presented is not None else _NO_MATCH
    return hmac.compare_digest(digest.encode(), tenant.hook_header_sha256.encode()) and presented is not None


def check_gitlab_token(tenant: Tenant | None, presented: str | None) -> bool:
    """Whether `X-Gitlab-Token` is the tenant's GitLab hook token, compared in constant time like the Basic
    secret; never for a tenant without one (or an unknown tenant), nor for a missing header."""
    expected = tenant.gitlab_token_sha256 if tenant is not None and tenant.gitlab_token_sha256 else _NO_MATCH
    digest = secret_digest(presented) if presented is not None else _NO_MATCH
    return hmac.compare_digest(digest.encode(), expected.encode()) and expected != _NO_MATCH and presented is not None


def check_github_signature(tenant: Tenant | None, body: bytes, presented: str | None) -> bool:
    """Whether `X-Hub-Signature-256` is `sha256=` + the HMAC-SHA256 of the raw body under the tenant's GitHub
    webhook secret, compared in constant time. A tenant without a secret (or an unknown one) is checked
    against a key nobody holds, so the answer costs the same and says nothing about which tenants exist."""
    secret = github_webhook_secret(tenant) if tenant is not None else None
    expected = "sha256=" + hmac.new(secret or _NO_SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), (presented or "").encode()) and secret is not None


def encrypt_secret(secret: str, what: str = "GitHub webhook secret") -> str:
    """`secret` encrypted with Airflow's Fernet key; refuses to run without one rather than store it in clear."""
    if not secret:
        raise ValueError(f"the {what} must not be empty")
    from airflow.models.crypto import get_fernet  # on use: Airflow's configuration costs a second to import

    fernet = get_fernet()
    if not fernet.is_encrypted:
        raise ValueError(f"storing a {what} needs Airflow's Fernet key: set AIRFLOW__CORE__FERNET_KEY "
                         "(the same value for every Airflow component and for provisioning)")
    return fernet.encrypt(secret.encode()).decode()


def github_webhook_secret(tenant: Tenant) -> bytes | None:
    """The tenant's GitHub webhook secret in clear, or None when it has none or it cannot be decrypted (no
    Fernet key here, or another key than the one it was stored with: logged, since every delivery fails)."""
    if tenant.github_secret_fernet is None:
        return None
    from airflow.models.crypto import get_fernet
    from cryptography.fernet import InvalidToken

    fernet = get_fernet()
    if not fernet.is_encrypted:
        log.error("tenant %s: no Fernet key configured, its GitHub webhook secret cannot be decrypted",
                  tenant.tenant_id)
        return None
    try:
        return fernet.decrypt(tenant.github_secret_fernet.encode())
    except InvalidToken:
        log.error("tenant %s: its GitHub webhook secret was encrypted with another Fernet key; provision the "
                  "tenant again (or add the old key to AIRFLOW__CORE__FERNET_KEY)", tenant.tenant_id)
        return None
