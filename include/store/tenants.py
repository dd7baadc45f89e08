"""Tenants and the credentials their service hooks present.

ADO signs nothing: a delivery is authentic only through the HTTP Basic credentials configured on the
subscription, optionally reinforced by a second secret in a custom header (`HOOK_SECRET_HEADER`, set in the
subscription's `httpHeaders`), which a tenant that configures it must always send. We keep the SHA-256 of
each secret, never the secret. A plain digest (no salt, no
stretching) is enough because hook secrets are generated machine secrets, not guessable passwords, and it
keeps the check on the ingress hot path to microseconds.
"""

from __future__ import annotations

import hashlib
import hmac

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.contracts.ticket import TENANT_PATTERN

HOOK_SECRET_HEADER = "X-Ticketpilot-Hook-Secret"
_COLUMNS = ("tenant_id, hook_username, hook_secret_sha256, scm_kind, default_repo, approvers, ado_org, ado_project, "
            "hook_header_sha256, hook_rate_per_s, hook_burst, ado_pipeline_id")
_NO_MATCH = hashlib.sha256(b"ticketpilot: no such tenant").hexdigest()


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

    @model_validator(mode="after")
    def _pipeline_needs_ado(self) -> Tenant:
        if self.ado_pipeline_id is not None and self.scm_kind != "ado":
            raise ValueError(f"ado_pipeline_id is set but tenant {self.tenant_id!r} uses scm_kind "
                             f"{self.scm_kind!r}: an Azure Pipelines pipeline needs scm_kind 'ado'")
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
) -> Tenant:
    """Create the tenant or update it in place to exactly these settings (idempotent: re-running the same
    provisioning rotates nothing; leaving out an optional setting clears it)."""
    tenant = Tenant(tenant_id=tenant_id, hook_username=hook_username, hook_secret_sha256=secret_digest(hook_secret),
                    scm_kind=scm_kind, default_repo=default_repo, approvers=approvers, ado_org=ado_org,
                    ado_project=ado_project,
                    hook_header_sha256=secret_digest(header_secret) if header_secret is not None else None,
                    hook_rate_per_s=hook_rate_per_s, hook_burst=hook_burst, ado_pipeline_id=ado_pipeline_id)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, scm_kind, default_repo, "
            "approvers, ado_org, ado_project, hook_header_sha256, hook_rate_per_s, hook_burst, ado_pipeline_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id) DO UPDATE SET "
            "hook_username = EXCLUDED.hook_username, hook_secret_sha256 = EXCLUDED.hook_secret_sha256, "
            "scm_kind = EXCLUDED.scm_kind, default_repo = EXCLUDED.default_repo, approvers = EXCLUDED.approvers, "
            "ado_org = EXCLUDED.ado_org, ado_project = EXCLUDED.ado_project, "
            "hook_header_sha256 = EXCLUDED.hook_header_sha256, hook_rate_per_s = EXCLUDED.hook_rate_per_s, "
            "hook_burst = EXCLUDED.hook_burst, ado_pipeline_id = EXCLUDED.ado_pipeline_id "
            f"RETURNING {_COLUMNS}",
            (tenant.tenant_id, tenant.hook_username, tenant.hook_secret_sha256, tenant.scm_kind,
             tenant.default_repo, tenant.approvers, tenant.ado_org, tenant.ado_project, tenant.hook_header_sha256,
             tenant.hook_rate_per_s, tenant.hook_burst, tenant.ado_pipeline_id),
        )
        row = cur.fetchone()
    return Tenant.model_validate(row)


def get_tenant(conn: psycopg.Connection, tenant_id: str) -> Tenant | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM ticketpilot.tenants WHERE tenant_id = %s", (tenant_id,)).fetchone()
    return Tenant.model_validate(row) if row else None


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
