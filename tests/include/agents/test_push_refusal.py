"""The Dev step asks the push decision before it commits: a change the tenant's policy refuses is refused with
the reason, and nothing reaches the forge."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from include.agents import dev
from include.agents.errors import AgentError
from include.contracts import AgentRole, AgentTask, Ticket
from include.policies import tenant_bundles
from include.policies.tenant_bundles import set_bundle
from include.scm.local import LocalForge

LINT = 104


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenant_bundles, "_cache", {})


def test_the_dev_step_refuses_before_committing(forge: LocalForge, demo_ticket: Callable[..., Ticket],
                                                db: psycopg.Connection) -> None:
    ticket = demo_ticket(LINT)
    set_bundle(db, ticket.tenant, 'package ticketpilot.tenant\n\nimport rego.v1\n\ndeny_paths := ["*.py"]\n',
               actor="ops-ann")
    with pytest.raises(AgentError, match="refused before any push: .*is a path the tenant's policy keeps agents "
                                         "out of \\(\\*\\.py\\)"):
        dev.run(AgentTask(role=AgentRole.DEV, ticket=ticket, run_id="manual__test"))
    branch_head, default_head = forge.head(ticket.repo, ticket.branch), forge.head(ticket.repo, "main")
    assert branch_head in (None, default_head), "nothing was committed"
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.pull_requests").fetchone()["n"] == 0
