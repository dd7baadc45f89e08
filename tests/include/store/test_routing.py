from __future__ import annotations

import psycopg
import pytest

from include.store.routing import get_policy, set_policy
from include.store.tenants import create_tenant
from model_serving.router.models import RoutingPolicy

SMALL = RoutingPolicy(default_model="vllm:small", large_model="openai:gpt-4o", fallbacks=["anthropic:claude-haiku"])


@pytest.fixture
def tenant(db: psycopg.Connection) -> str:
    create_tenant(db, "acme", "acme-hooks", "s", "web", [])
    return "acme"


def test_policies_are_versioned_and_the_latest_routes(db: psycopg.Connection, tenant: str) -> None:
    assert get_policy(db, tenant) is None
    assert set_policy(db, tenant, SMALL, actor="alice") == 1
    assert set_policy(db, tenant, SMALL, actor="alice") == 1, "the same policy again adds no version"
    larger = SMALL.model_copy(update={"data_boundary": "no_training"})
    assert set_policy(db, tenant, larger, actor="bob") == 2
    assert get_policy(db, tenant) == larger
    rows = db.execute("SELECT version, set_by FROM ticketpilot.routing_policies ORDER BY version").fetchall()
    assert [(r["version"], r["set_by"]) for r in rows] == [(1, "alice"), (2, "bob")]
    audited = db.execute("SELECT actor, details FROM ticketpilot.audit_log WHERE action = 'routing_policy.set' "
                         "ORDER BY id").fetchall()
    assert [(a["actor"], a["details"]["version"]) for a in audited] == [("alice", 1), ("bob", 2)]


def test_a_policy_needs_a_known_tenant(db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        set_policy(db, "nobody", SMALL, actor="alice")
