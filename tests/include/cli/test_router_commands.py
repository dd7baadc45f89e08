"""`ticketpilot router issue-token|tokens|revoke-token` against the real PostgreSQL: a token shown once that
authenticates as its tenant, listed without its secret, revoked (audited with the operator's name), and a second
revocation or a bad tenant id answered with exit 2."""

from __future__ import annotations

import psycopg
import pytest

from include.store.db import connect
from model_serving.router.auth import TokenAuthenticator, Unauthenticated
from tests.include.cli.helpers import run


def test_issue_list_and_revoke(db: psycopg.Connection, db_url: str, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("USER", "ops-ann")
    assert run(capsys, "router", "tokens")[1].strip() == "no router tokens"
    code, out, _ = run(capsys, "router", "issue-token", "acme", "--label", "cursor")
    assert code == 0 and "shown once" in out
    token = out.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    authenticate = TokenAuthenticator(lambda: connect(db_url))
    assert authenticate(token).tenant == "acme"

    listed = run(capsys, "router", "tokens", "--tenant", "acme")[1]
    assert token_id in listed and "live" in listed and "cursor" in listed and token.split("_")[2] not in listed

    code, out, _ = run(capsys, "router", "revoke-token", token_id)
    assert code == 0 and "revoked" in out
    with pytest.raises(Unauthenticated, match="revoked"):
        authenticate(token)
    assert "revoked" in run(capsys, "router", "tokens")[1]
    code, _, err = run(capsys, "router", "revoke-token", token_id)
    assert code == 2 and "no live router token" in err
    actions = db.execute("SELECT actor, action FROM ticketpilot.audit_log WHERE chain = 'acme' AND action LIKE "
                         "'router.token.%%' ORDER BY seq").fetchall()
    assert [(a["actor"], a["action"]) for a in actions] == [("ops-ann", "router.token.issued"),
                                                            ("ops-ann", "router.token.revoked")]


def test_a_bad_tenant_id_is_refused(db: psycopg.Connection, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "router", "issue-token", "Not A Tenant")
    assert code == 2 and "is not a tenant id" in err
