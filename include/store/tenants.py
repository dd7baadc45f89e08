"""Tenants and the credentials their service hooks present.

ADO signs nothing: a delivery is authentic only through the HTTP Basic credentials configured on the
subscription. We keep the SHA-256 of the hook secret, never the secret. A plain digest (no salt, no
stretching) is enough because hook secrets are generated machine secrets, not guessable passwords, and it
keeps the check on the ingress hot path to microseconds.
"""

from __future__ import annotations

import hashlib
import hmac

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from include.contracts.ticket import TENANT_PATTERN

_COLUMNS = "tenant_id, hook_username, hook_secret_sha256, scm_kind, default_repo, approvers, ado_org, ado_project"
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
) -> Tenant:
    """Create the tenant or update it in place (idempotent: re-running provisioning rotates nothing else)."""
    tenant = Tenant(tenant_id=tenant_id, hook_username=hook_username, hook_secret_sha256=secret_digest(hook_secret),
                    scm_kind=scm_kind, default_repo=default_repo, approvers=approvers)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, scm_kind, default_repo, "
            "approvers) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id) DO UPDATE SET "
            "hook_username = EXCLUDED.hook_username, hook_secret_sha256 = EXCLUDED.hook_secret_sha256, "
            "scm_kind = EXCLUDED.scm_kind, default_repo = EXCLUDED.default_repo, approvers = EXCLUDED.approvers "
            f"RETURNING {_COLUMNS}",
            (tenant.tenant_id, tenant.hook_username, tenant.hook_secret_sha256, tenant.scm_kind,
             tenant.default_repo, tenant.approvers),
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
