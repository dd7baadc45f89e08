"""Who may call the router's HTTP face, and for which tenant: from the credential, never from a header.

Two credentials, both `Authorization: Bearer …`:
- a **router token** `tpr_<id>_<secret>`, issued per tenant (`ticketpilot router issue-token`), shown once; only
  the SHA-256 of its secret is stored, compared in constant time; revoked tokens fail at once;
- the **platform's JWT** (HS256/HS512 with `TICKETPILOT_ROUTER_JWT_SECRET`, audience `ticketpilot-router`),
  whose `tenant` claim names the tenant and `exp` bounds it, for platform components that mint their own.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Literal

import jwt
import psycopg
from pydantic import BaseModel, ConfigDict, Field

from include.contracts.ticket import TENANT_PATTERN
from include.store import audit

TOKEN_PREFIX = "tpr"
JWT_SECRET_ENV = "TICKETPILOT_ROUTER_JWT_SECRET"
JWT_AUDIENCE = "ticketpilot-router"
_JWT_ALGORITHMS = ["HS256", "HS512"]


class Caller(BaseModel):
    """An authenticated caller: the tenant its credential belongs to."""

    model_config = ConfigDict(frozen=True)

    tenant: str = Field(pattern=TENANT_PATTERN)
    via: Literal["token", "jwt"]
    credential: str = Field(description="The token id or the JWT's subject: for logs, never the secret.")


class Unauthenticated(Exception):
    """No credential, or one that is unknown, revoked, expired or malformed (401)."""


class IssuedToken(BaseModel):
    token_id: str
    tenant: str
    token: str = Field(description="Shown once; only its secret's SHA-256 is stored.")


Authenticate = Callable[[str], Caller]


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(conn: psycopg.Connection, tenant: str, *, label: str = "", actor: str) -> IssuedToken:
    Caller(tenant=tenant, via="token", credential="-")  # the tenant id's pattern, before anything is stored
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with conn.transaction():
        conn.execute("INSERT INTO ticketpilot.router_tokens (token_id, tenant_id, secret_sha256, label, created_by) "
                     "VALUES (%s, %s, %s, %s, %s)", (token_id, tenant, _sha256(secret), label, actor))
        audit.append(conn, actor=actor, action="router.token.issued", subject=token_id, tenant=tenant,
                     details={"label": label})
    return IssuedToken(token_id=token_id, tenant=tenant, token=f"{TOKEN_PREFIX}_{token_id}_{secret}")


def revoke_token(conn: psycopg.Connection, token_id: str, *, actor: str) -> bool:
    """Revoke a token; False when there is no such live token."""
    with conn.transaction():
        row = conn.execute("UPDATE ticketpilot.router_tokens SET revoked_at = now(), revoked_by = %s "
                           "WHERE token_id = %s AND revoked_at IS NULL RETURNING tenant_id", (actor, token_id)
                           ).fetchone()
        if row is None:
            return False
        audit.append(conn, actor=actor, action="router.token.revoked", subject=token_id, tenant=_get(row, "tenant_id"),
                     details={})
    return True


def list_tokens(conn: psycopg.Connection, tenant: str | None = None) -> list[dict[str, Any]]:
    return [r if isinstance(r, dict) else dict(zip(("token_id", "tenant_id", "label", "created_by", "created_at",
                                                    "revoked_at"), r, strict=True))
            for r in conn.execute("SELECT token_id, tenant_id, label, created_by, created_at, revoked_at "
                                  "FROM ticketpilot.router_tokens WHERE %s::text IS NULL OR tenant_id = %s "
                                  "ORDER BY tenant_id, created_at", (tenant, tenant)).fetchall()]


class TokenAuthenticator:
    """Router tokens, looked up per request (one indexed read; revocation takes effect at once)."""

    def __init__(self, connection: Callable[[], AbstractContextManager[psycopg.Connection]]) -> None:
        self._connection = connection

    def __call__(self, credential: str) -> Caller:
        prefix, _, rest = credential.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not token_id or not secret:
            raise Unauthenticated("not a router token")
        with self._connection() as conn:
            row = conn.execute("SELECT tenant_id, secret_sha256, revoked_at FROM ticketpilot.router_tokens "
                               "WHERE token_id = %s", (token_id,)).fetchone()
        if row is None or not hmac.compare_digest(_get(row, "secret_sha256", 1), _sha256(secret)):
            raise Unauthenticated("unknown router token")
        if _get(row, "revoked_at", 2) is not None:
            raise Unauthenticated(f"router token {token_id} was revoked")
        return Caller(tenant=_get(row, "tenant_id"), via="token", credential=token_id)


class JwtAuthenticator:
    """The platform's JWT: signed with the shared secret, for this audience, unexpired, naming a tenant."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 64:
            raise ValueError(f"{JWT_SECRET_ENV} must be at least 64 characters (HS512)")
        self._secret = secret

    def __call__(self, credential: str) -> Caller:
        try:
            claims = jwt.decode(credential, self._secret, algorithms=_JWT_ALGORITHMS, audience=JWT_AUDIENCE,
                                options={"require": ["exp", "aud", "tenant"]})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"JWT refused: {exc}") from None
        try:
            return Caller(tenant=str(claims["tenant"]), via="jwt", credential=str(claims.get("sub", "-")))
        except ValueError:
            raise Unauthenticated("JWT refused: its tenant claim is not a tenant id") from None


def mint_jwt(secret: str, tenant: str, *, ttl_s: int = 300, subject: str = "ticketpilot") -> str:
    """A platform JWT for one tenant (what platform components present)."""
    import time

    now = int(time.time())
    return jwt.encode({"tenant": tenant, "sub": subject, "aud": JWT_AUDIENCE, "iat": now, "exp": now + ttl_s},
                      secret, algorithm="HS512")


def authenticator(connection: Callable[[], AbstractContextManager[psycopg.Connection]],
                  jwt_secret: str | None = None) -> Authenticate:
    """Router tokens always; the platform's JWT where a secret is configured (argument, else the environment)."""
    tokens = TokenAuthenticator(connection)
    secret = jwt_secret if jwt_secret is not None else os.environ.get(JWT_SECRET_ENV, "")
    jwts = JwtAuthenticator(secret) if secret else None

    def authenticate(credential: str) -> Caller:
        if credential.startswith(f"{TOKEN_PREFIX}_") or jwts is None:
            return tokens(credential)
        return jwts(credential)

    return authenticate


def _get(row: Any, key: str, index: int = 0) -> Any:
    return row[key] if isinstance(row, dict) else row[index]
