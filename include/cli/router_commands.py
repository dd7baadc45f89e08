"""`ticketpilot router issue-token|tokens|revoke-token`: the credentials of the model router's HTTP face, one or
more per tenant (model_serving/router/auth.py). A token is shown once; each issue and revocation is audited in
the tenant's chain."""

from __future__ import annotations

from pydantic import ValidationError

from include.cli.commands import CliError, _actor
from include.store.db import connect
from model_serving.router.auth import issue_token, list_tokens, revoke_token


def router_issue_token(tenant: str, label: str) -> str:
    try:
        with connect(autocommit=True) as conn:
            issued = issue_token(conn, tenant, label=label, actor=_actor())
    except ValidationError:
        raise CliError(f"{tenant!r} is not a tenant id") from None
    return (f"router token {issued.token_id} for tenant {tenant} (shown once; store it as the client's API key):\n"
            f"{issued.token}")


def router_tokens(tenant: str | None) -> str:
    with connect(autocommit=True) as conn:
        tokens = list_tokens(conn, tenant)
    if not tokens:
        return "no router tokens" + (f" for tenant {tenant}" if tenant else "")
    lines = [f"{'TOKEN':<14}{'TENANT':<22}{'ISSUED (UTC)':<18}{'BY':<12}{'STATE':<10}LABEL"]
    for t in tokens:
        state = "revoked" if t["revoked_at"] else "live"
        lines.append(f"{t['token_id']:<14}{t['tenant_id']:<22}{t['created_at']:%Y-%m-%d %H:%M}  "
                     f"{t['created_by']:<12}{state:<10}{t['label']}")
    return "\n".join(lines)


def router_revoke_token(token_id: str) -> str:
    with connect(autocommit=True) as conn:
        if not revoke_token(conn, token_id, actor=_actor()):
            raise CliError(f"no live router token {token_id} (unknown, or revoked already)")
    return f"router token {token_id} revoked: its next request is refused"
