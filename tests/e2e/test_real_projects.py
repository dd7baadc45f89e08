"""End to end on code nobody here wrote: three small open-source projects built from their sdists with planted
defects (include/demo/real_projects.py), each a tenant with its repository on the local forge, get tickets of
every kind worded as their maintainers file them, posted to the ADO hook as ADO would.

Without a language model the platform must merge exactly the tickets a playbook can do, with the change the
ticket asked for and the project's own test suite green on merged main (in the repository's own venv, so a
bump is tested against the bumped version), and refuse every other ticket with its reason. Wrong merges: 0.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from include.agents import tools
from include.airflow_client import AirflowClient
from include.contracts import ChangeKind, Ticket
from include.demo.real_projects import (
    BRANCH,
    TicketSpec,
    decide_as_labelled,
    file_tickets,
    project,
    project_names,
    project_tenant,
    provision_project,
)
from include.launcher.follow import FINISHED, RunView, follow
from include.launcher.platform import Platform
from include.sandbox import Sandbox, repo_venv
from include.scm.local import LocalForge
from include.store.db import connect
from tests.e2e.helpers import merged_times

pytestmark = pytest.mark.e2e
_CHOSEN = os.environ.get("TICKETPILOT_E2E_PROJECTS", "prettytable")
PROJECTS = project_names() if _CHOSEN == "all" else _CHOSEN.split(",")
"""`make test` runs one project (prettytable: src layout, a runtime dependency the platform lacks) to fit CI's
time; `TICKETPILOT_E2E_PROJECTS=all` runs every project, as bench/RESULTS.md records."""
LABELS: dict[str, tuple[str, TicketSpec]] = {
    f"{project_tenant(name).tenant_id}-{ticket.id}": (name, ticket)
    for name in PROJECTS for ticket in project(name).tickets
}
"""ticket key -> (project, labelled ticket)"""
CASES = sorted(LABELS)
RUN_TIMEOUT_S = 3600
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]


@pytest.fixture(scope="module")
def forges(platform: Platform) -> dict[str, LocalForge]:
    with platform.client() as client:
        return {name: provision_project(name, client) for name in PROJECTS}


@pytest.fixture(scope="module")
def before(forges: dict[str, LocalForge], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each project's main as built, checked out before any ticket is filed."""
    root = tmp_path_factory.mktemp("real-before")
    return {name: forges[name].checkout(name, BRANCH, root / name) for name in PROJECTS}


@pytest.fixture(scope="module")
def finished(platform: Platform, before: dict[str, Path]) -> dict[str, RunView]:
    """Every ticket filed at once, the CI ticket among them, as a team files them: the others' Pipeline steps
    leave CI to it (a repository without CI used to get the same file from every PR, and the CI ticket closed
    as "already landed" when another merged first)."""
    views = file_tickets(platform.api_url, PROJECTS)
    assert set(views) == set(LABELS)

    def on_gate(view: RunView) -> list[str]:
        return decide_as_labelled(platform.api_url, view, LABELS[view.ticket_key][1].expect.outcome)

    with platform.client() as client:
        return follow(client, views, on_gate=on_gate, timeout=RUN_TIMEOUT_S)


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-venvs")


def ticket_row(key: str) -> Ticket:
    with connect(autocommit=True) as conn:
        row = conn.execute("SELECT ticket FROM ticketpilot.tickets WHERE ticket_key = %s", (key,)).fetchone()
    return Ticket.model_validate(row["ticket"])


def prs_of(tenant: str, *, branch: str | None = None) -> list[dict[str, Any]]:
    query = ("SELECT pr_id, source_branch, status, workitem_id FROM ticketpilot.pull_requests "
             "WHERE tenant_id = %s" + (" AND source_branch = %s" if branch else "") + " ORDER BY pr_id")
    with connect(autocommit=True) as conn:
        return conn.execute(query, (tenant, branch) if branch else (tenant,)).fetchall()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def changed_files(diff: str) -> set[str]:
    return {line.split(" b/", 1)[1] for line in diff.splitlines() if line.startswith("diff --git a/")}


def failure_logs(client: AirflowClient, view: RunView) -> str:
    """Every try's log of every failed task: where the step that stopped the ticket says why."""
    logs = []
    for task in view.tasks:
        if task["state"] == "failed":
            for attempt in range(1, int(task.get("try_number") or 1) + 1):
                logs.append(client.task_log(view.dag_id, view.run_id or "", task["task_id"], attempt))
    return "\n".join(logs)


def test_every_ticket_ran_to_the_end(finished: dict[str, RunView]) -> None:
    unfinished = {key: view.state for key, view in finished.items() if view.state not in FINISHED}
    assert not unfinished


@pytest.mark.parametrize("key", CASES)
def test_ticket_ends_as_labelled(finished: dict[str, RunView], forges: dict[str, LocalForge],
                                 before: dict[str, Path], platform: Platform, tmp_path: Path, key: str) -> None:
    name, label = LABELS[key]
    expect, view, forge = label.expect, finished[key], forges[name]
    ticket = ticket_row(key)
    assert ticket.change_kind is expect.kind
    prs = prs_of(ticket.tenant, branch=ticket.branch)
    if expect.outcome == "refused":
        assert view.state == "failed", [(t["task_id"], t["state"]) for t in view.tasks]
        assert not [pr for pr in prs if pr["status"] == "completed"], "a refused ticket merged"
        with platform.client() as client:
            assert expect.reason in failure_logs(client, view)
        return
    assert view.state == "success", [(t["task_id"], t["state"]) for t in view.tasks]
    main = forge.checkout(name, BRANCH, tmp_path / "main")
    (pr,) = [pr for pr in prs if pr["status"] == "completed"]
    log = git(main, "log", "--format=%H %B", BRANCH)
    assert merged_times(log, pr["pr_id"]) == 1
    changed = changed_files(forge.diff(pr["pr_id"]))
    assert set(expect.touches) <= changed
    assert not expect.touches_only or changed == set(expect.touches), f"{key} changed more than asked: {changed}"
    for path, text in expect.present.items():
        assert text in (main / path).read_text(encoding="utf-8"), (path, text)
    for path, text in expect.absent.items():
        assert text not in (main / path).read_text(encoding="utf-8"), (path, text)
    for path in expect.unchanged:
        assert (main / path).read_bytes() == (before[name] / path).read_bytes(), f"{path} must be left alone"
    for path in expect.secret_free:
        assert tools.secret_findings(main, [path]) == []
    for path in expect.lint_free:
        assert not [f for f in tools.ruff_findings(main, [path]) if f["code"] == "F401"]


def test_zero_wrong_merges(finished: dict[str, RunView]) -> None:
    """No merged PR belongs to a ticket labelled `refused` (docs PRs count for their ticket too)."""
    wrong = []
    for name in PROJECTS:
        tenant = project_tenant(name).tenant_id
        for pr in prs_of(tenant):
            label = LABELS.get(f"{tenant}-{pr['workitem_id']}")
            if pr["status"] == "completed" and (label is None or label[1].expect.outcome == "refused"):
                wrong.append((tenant, pr["pr_id"], pr["source_branch"]))
    assert wrong == []


@pytest.mark.parametrize("name", PROJECTS)
def test_its_own_suite_passes_on_merged_main(finished: dict[str, RunView], forges: dict[str, LocalForge],
                                             venvs: Path, tmp_path: Path, name: str) -> None:
    """In the venv main declares now: after the bump, the bumped version is what the tests ran against. The
    package imports with no credential in the environment."""
    spec = project(name)
    main = forges[name].checkout(name, BRANCH, tmp_path / "main")
    sandbox = Sandbox(main.resolve(), repo_venv(main, root=venvs))
    result = sandbox.run([sandbox.python, *PYTEST], timeout_s=600)
    assert result.exit_code == 0, result.output_tail
    bump = next(t for t in spec.tickets if t.expect.kind is ChangeKind.DEPENDENCY_BUMP and t.expect.outcome == "merged")
    if finished[f"{project_tenant(name).tenant_id}-{bump.id}"].state == "success":
        version = sandbox.run([sandbox.python, "-c", "import importlib.metadata as m; "
                               f"print(m.version({spec.dependency.name!r}))"])
        assert version.stdout.strip() == spec.dependency.latest
    module = spec.plant("credential").path.removeprefix("src/").removesuffix(".py").replace("/", ".")
    imported = sandbox.run([sandbox.python, "-c", f"import {module}"])
    assert imported.exit_code == 0, imported.output_tail

