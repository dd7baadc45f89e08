"""Router credentials: tokens stored as hashes and checked in constant time; the platform's JWT bound to its
audience, expiry and a tenant claim."""

from __future__ import annotations

import time

import jwt
import psycopg
import pytest

from include.store.db import connect
from model_serving.router.auth import (
    JwtAuthenticator,
    TokenAuthenticator,
    Unauthenticated,
    authenticator,
    issue_token,
    mint_jwt,
)

SECRET = "k" * 64


def test_only_the_secrets_hash_is_stored(db: psycopg.Connection) -> None:
    issued = issue_token(db, "acme", actor="ops")
    secret = issued.token.split("_", 2)[2]
    [row] = db.execute("SELECT * FROM ticketpilot.router_tokens").fetchall()
    assert secret not in str(row) and len(row["secret_sha256"]) == 64 and row["tenant_id"] == "acme"


@pytest.mark.parametrize("credential", ["", "tpr_", "tpr_abc", "tpr_abc_", "xyz_abc_def", "tpr_abc_wrong"])
def test_malformed_or_wrong_tokens_are_refused(db: psycopg.Connection, db_url: str, credential: str) -> None:
    issued = issue_token(db, "acme", actor="ops")
    if credential == "tpr_abc_wrong":
        credential = f"tpr_{issued.token_id}_wrong"
    with pytest.raises(Unauthenticated):
        TokenAuthenticator(lambda: connect(db_url))(credential)


def test_a_jwt_names_its_tenant_and_nothing_else_will_do() -> None:
    check = JwtAuthenticator(SECRET)
    caller = check(mint_jwt(SECRET, "acme", subject="spawner"))
    assert (caller.tenant, caller.via, caller.credential) == ("acme", "jwt", "spawner")
    now = int(time.time())
    for claims in ({"aud": "ticketpilot-router", "exp": now + 60},  # no tenant
                   {"tenant": "Bad Tenant", "aud": "ticketpilot-router", "exp": now + 60},
                   {"tenant": "acme", "aud": "airflow", "exp": now + 60},
                   {"tenant": "acme", "aud": "ticketpilot-router"}):  # no expiry
        with pytest.raises(Unauthenticated):
            check(jwt.encode(claims, SECRET, algorithm="HS512"))
    with pytest.raises(Unauthenticated):
        check(jwt.encode({"tenant": "acme", "aud": "ticketpilot-router", "exp": now + 60}, None, algorithm="none"))


def test_a_short_jwt_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least 64"):
        JwtAuthenticator("short")


def test_without_a_jwt_secret_only_tokens_are_accepted(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETPILOT_ROUTER_JWT_SECRET", raising=False)
    with pytest.raises(Unauthenticated, match="not a router token"):
        authenticator(lambda: connect(db_url))(mint_jwt(SECRET, "acme"))
