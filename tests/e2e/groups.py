"""How `make test` spreads the suite over pytest-xdist workers: each e2e module in one of two groups of about
equal time (CI's --durations), a group on one worker with its own platform, every other test on its own.

Two platforms and the unit tests share the machine: a platform spends about half its time waiting on its
scheduler. A group's modules stay on one worker, in file order, on one platform, as when run alone.

xdist's own `--dist loadgroup` marks groups by rewriting `item._nodeid`, which pytest 9 no longer reads (a node
id is `item._id`), so its groups silently fall apart; this scheduler groups by file name instead."""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

E2E_DIR = "tests/e2e/"
E2E_GROUPS = {
    "test_real_projects.py": "e2e-a", "test_ado_tenant.py": "e2e-a", "test_model_router.py": "e2e-a",
    "test_final_diff.py": "e2e-a", "test_own_repository.py": "e2e-a",
    "test_failures_and_recovery.py": "e2e-b", "test_parked_gates.py": "e2e-b", "test_embedded_platform.py": "e2e-b",
    "test_loop_real_projects.py": "e2e-b",
}


def scope_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its e2e group, else the test itself."""
    if nodeid.startswith(E2E_DIR):
        name = nodeid.removeprefix(E2E_DIR).split("::", 1)[0]
        return f"group:{E2E_GROUPS.get(name, name)}"
    return nodeid


class E2eGroupScheduling(LoadScopeScheduling):
    """LoadScope with `scope_of`'s scopes; the largest scopes (the e2e groups) are handed out first."""

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)
