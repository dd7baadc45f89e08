from __future__ import annotations

import psycopg
import pytest
from pydantic import ValidationError

from include.store.tenants import Tenant, check_header_secret, create_tenant, get_tenant, secret_digest

TENANT = "acme"


def test_optional_settings_are_stored_and_cleared_by_reprovisioning(db: psycopg.Connection) -> None:
    tenant = create_tenant(db, TENANT, "ado-acme", "s1", "web", ["alice@example.com"], ado_org="fabrikam",
                           ado_project="Web", header_secret="h1", hook_rate_per_s=5.0, hook_burst=10)
    assert (tenant.ado_org, tenant.ado_project, tenant.hook_rate_per_s, tenant.hook_burst) == (
        "fabrikam", "Web", 5.0, 10)
    assert tenant.hook_header_sha256 == secret_digest("h1") and "h1" not in repr(tenant)
    assert get_tenant(db, TENANT) == tenant
    plain = create_tenant(db, TENANT, "ado-acme", "s1", "web", ["alice@example.com"])
    assert (plain.ado_org, plain.ado_project, plain.hook_header_sha256, plain.hook_rate_per_s, plain.hook_burst) \
        == (None, None, None, None, None)


def test_database_refuses_a_bad_rate(db: psycopg.Connection) -> None:
    create_tenant(db, TENANT, "ado-acme", "s1", "web", [])
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE ticketpilot.tenants SET hook_rate_per_s = 0")


def test_header_secret_check() -> None:
    base = {"tenant_id": TENANT, "hook_username": "u", "hook_secret_sha256": secret_digest("s"), "default_repo": "web"}
    without = Tenant(**base)
    assert check_header_secret(without, None) and check_header_secret(without, "anything")
    with_secret = Tenant(**base, hook_header_sha256=secret_digest("h1"))
    assert check_header_secret(with_secret, "h1")
    assert not check_header_secret(with_secret, "h2")
    assert not check_header_secret(with_secret, None)
    assert not check_header_secret(with_secret, "")
    with pytest.raises(ValidationError):
        Tenant(**base, hook_rate_per_s=0)


def test_an_ado_pipeline_is_stored_for_an_ado_tenant_and_refused_for_others(db: psycopg.Connection) -> None:
    tenant = create_tenant(db, TENANT, "ado-acme", "s1", "web", [], scm_kind="ado", ado_pipeline_id=7)
    assert get_tenant(db, TENANT).ado_pipeline_id == tenant.ado_pipeline_id == 7
    with pytest.raises(ValidationError, match="an Azure Pipelines pipeline needs scm_kind 'ado'"):
        create_tenant(db, TENANT, "ado-acme", "s1", "web", [], scm_kind="local", ado_pipeline_id=7)
    assert get_tenant(db, TENANT).ado_pipeline_id == 7, "a refused change stores nothing"
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE ticketpilot.tenants SET ado_pipeline_id = 0")
