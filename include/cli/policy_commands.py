"""`ticketpilot policy set|show`: a tenant's own Rego bundle, which can only tighten the platform's rules
(include/policies/tenant_bundles.py). A bundle is checked when it is set; each new version is audited."""

from __future__ import annotations

from pathlib import Path

from include.cli.commands import CliError, _actor
from include.policies.engine import PolicyError
from include.policies.tenant_bundles import latest_bundle, set_bundle
from include.store.db import connect


def policy_set(tenant: str, path: Path) -> str:
    try:
        source = path.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        with connect(autocommit=True) as conn:
            version = set_bundle(conn, tenant, source, actor=_actor())
    except PolicyError as exc:
        raise CliError(f"{path} refused: {exc}") from None
    return (f"tenant {tenant}: policy bundle version {version} in force (processes pick it up within 30 s); its "
            "rules can only raise a ticket's class")


def policy_show(tenant: str) -> str:
    with connect(autocommit=True) as conn:
        bundle = latest_bundle(conn, tenant)
    if bundle is None:
        return f"tenant {tenant} has no policy bundle: the platform's rules apply as they are"
    return (f"# tenant {tenant}, version {bundle['version']}, set by {bundle['set_by']} at "
            f"{bundle['set_at']:%Y-%m-%d %H:%M} UTC, sha256 {bundle['sha256'][:16]}\n{bundle['source'].rstrip()}")
