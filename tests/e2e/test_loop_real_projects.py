"""End to end, the tool-using loop on code nobody here wrote: a second prettytable tenant whose routing policy
names the replay model (include/demo/replay/real-projects/, a scripted developer) gets tickets no playbook
covers, posted to its ADO hook. A feature and a refactor must merge green: the Dev step's loop reads, edits and
runs the project's tests in its sandbox inside the Airflow task, the PR links the transcript, and the project's
own suite passes on merged main. A bug report that does not reproduce ends at Dev with the loop's reason and no
PR. The no-model tenant of test_real_projects.py refuses all three for want of a model.

Tickets are filed in stages (see `finished`), as a team works one file: 310 edits what 307 merged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from include.demo.real_projects import (
    BRANCH,
    REPLAY_MODEL,
    decide_as_labelled,
    file_tickets,
    project,
    project_tenant,
    provision_project,
)
from include.launcher.follow import RunView, follow
from include.launcher.platform import Platform
from include.sandbox import Sandbox, repo_venv
from include.scm.local import LocalForge
from include.store.db import connect
from model_serving.router.ledger import calls
from tests.e2e.helpers import merged_times

pytestmark = pytest.mark.e2e
NAME = "prettytable"
MERGED = [307, 310]
REFUSED = 306
TICKETS = [*MERGED, REFUSED]
"""A feature, a refactor and a bug that does not reproduce; the rest of the scripted set runs in
tests/include/agents/loop and bench/tickets.py."""
RUN_TIMEOUT_S = 1800


@pytest.fixture(scope="module")
def forge(platform: Platform) -> LocalForge:
    with platform.client() as client:
        return provision_project(NAME, client, model=REPLAY_MODEL)


@pytest.fixture(scope="module")
def finished(platform: Platform, forge: LocalForge) -> dict[str, RunView]:
    """307 with 306 beside it (306 opens no PR), then 310, which edits what 307 merged. The repository has no
    CI, so 307's Pipeline step adds it, and it still holds the planted AWS key: review comments on that line but
    does not block a change that did not add it."""
    done: dict[str, RunView] = {}
    for stage in ({307, REFUSED}, {310}):
        views = file_tickets(platform.api_url, [NAME], ids=stage, model=REPLAY_MODEL)
        with platform.client() as client:
            done |= follow(client, views, on_gate=lambda view: decide_as_labelled(platform.api_url, view, "merged"),
                           timeout=RUN_TIMEOUT_S)
    return done


def labelled(ticket_id: int):  # noqa: ANN201 - the label's type is the catalogue's
    label = next(t for t in project(NAME).tickets if t.id == ticket_id).replayed
    assert label is not None, f"ticket {ticket_id} has no replayed label"
    return label


@pytest.mark.parametrize("ticket_id", MERGED)
def test_the_loop_ticket_merges_with_its_change_and_transcript(finished: dict[str, RunView], forge: LocalForge,
                                                               tmp_path: Path, ticket_id: int) -> None:
    tenant = project_tenant(NAME, REPLAY_MODEL).tenant_id
    view = finished[f"{tenant}-{ticket_id}"]
    assert view.state == "success", [(t["task_id"], t["state"]) for t in view.tasks]
    with connect(autocommit=True) as conn:
        (pr,) = conn.execute("SELECT pr_id FROM ticketpilot.pull_requests WHERE tenant_id = %s AND workitem_id = %s "
                             "AND status = 'completed' AND source_branch NOT LIKE '%%-docs%%'",
                             (tenant, ticket_id)).fetchall()  # the docs PR merges after it, on its own branch
        models = {f"{r['provider']}:{r['model']}" for r in calls(conn, tenant)
                  if r["step"] == "dev.loop" and r["ticket_key"] == view.ticket_key}
    assert models == {REPLAY_MODEL}
    diff = forge.diff(pr["pr_id"])
    touched = {line.split(" b/", 1)[1] for line in diff.splitlines() if line.startswith("diff --git a/")}
    assert set(labelled(ticket_id).touches) <= touched
    description = forge.get_pr(pr["pr_id"]).description or ""
    assert "dev.loop.jsonl" in description and REPLAY_MODEL in description
    main = forge.checkout(NAME, BRANCH, tmp_path / "main")
    log = subprocess.run(["git", "-C", str(main), "log", "--format=%H %B", BRANCH], capture_output=True, text=True,
                         check=True).stdout
    assert merged_times(log, pr["pr_id"]) == 1


def test_a_bug_that_does_not_reproduce_is_refused_at_dev_with_the_loops_reason(
        finished: dict[str, RunView], platform: Platform) -> None:
    tenant = project_tenant(NAME, REPLAY_MODEL).tenant_id
    view = finished[f"{tenant}-{REFUSED}"]
    assert view.state == "failed"
    failed = [t for t in view.tasks if t["state"] == "failed"]
    assert "dev_change" in [t["task_id"] for t in failed], [(t["task_id"], t["state"]) for t in view.tasks]
    with platform.client() as client:
        dev = next(t for t in failed if t["task_id"] == "dev_change")
        log = client.task_log(view.dag_id, view.run_id or "", "dev_change", int(dev.get("try_number") or 1))
    assert "the model refused the ticket: Cannot reproduce in 3.19.0" in log
    with connect(autocommit=True) as conn:
        assert not conn.execute("SELECT 1 FROM ticketpilot.pull_requests WHERE tenant_id = %s AND workitem_id = %s",
                                (tenant, REFUSED)).fetchall()


def test_its_own_suite_passes_on_merged_main(finished: dict[str, RunView], forge: LocalForge, tmp_path: Path) -> None:
    main = forge.checkout(NAME, BRANCH, tmp_path / "main")
    sandbox = Sandbox(main.resolve(), repo_venv(main))
    result = sandbox.run([sandbox.python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], timeout_s=600)
    assert result.exit_code == 0, result.output_tail
