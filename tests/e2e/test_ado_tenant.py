"""End to end on Azure DevOps: tenant `contoso` is configured for the `ado` SCM, and the ADO emulator plays
Boards and Repos. A work item created on the board reaches our ingress through the emulator's service hook,
its ticket DAG branches, commits and opens a draft PR in the emulator's repository, the merge completes
the PR, and the work item ends Resolved with a comment saying what was done."""

from __future__ import annotations

import time

import pytest

from include.contracts.ticket import dag_id, ticket_key
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.launcher.follow import RunView, follow
from include.launcher.platform import Platform
from include.store.db import connect
from include.tenancy.provision import TenantSpec, provision
from tests.e2e.conftest import ADO_TENANT
from tests.emulators.ado.server import EmulatorServer

pytestmark = pytest.mark.e2e

LINT_TITLE = "Fix lint: remove unused imports"


@pytest.fixture(scope="module")
def contoso(platform: Platform, ado_server: EmulatorServer) -> TenantSpec:
    spec = TenantSpec(tenant_id=ADO_TENANT, hook_username="contoso-hooks", hook_secret="contoso-hook-secret",
                      default_repo=DEMO_REPO, scm_kind="ado", ado_org=ado_server.state.org,
                      ado_project=ado_server.state.project)
    with platform.client() as client:
        provision(spec, client)
    ado_server.seed_repo(DEMO_REPO, demo_repo_files())
    ado_server.subscribe(f"{platform.api_url}/ticketpilot/hooks/ado/{ADO_TENANT}",
                         ["workitem.created", "workitem.updated", "git.pullrequest.updated", "build.complete"],
                         basicAuthUsername=spec.hook_username, basicAuthPassword=spec.hook_secret,
                         retryDelayScale=0.1)
    return spec


def test_a_board_work_item_is_worked_to_resolved_in_ado(platform: Platform, ado_server: EmulatorServer,
                                                        contoso: TenantSpec) -> None:
    item = ado_server.seed_work_item({"System.Title": LINT_TITLE, "System.Tags": "lint"})
    workitem = item["id"]
    view = RunView(ticket_key=ticket_key(ADO_TENANT, workitem), dag_id=dag_id(ADO_TENANT, workitem))
    with platform.client() as client:
        follow(client, {view.ticket_key: view}, on_gate=lambda v: [], timeout=600)
        failed = {t["task_id"]: client.task_log(view.dag_id, view.run_id, t["task_id"], t["try_number"])[-3000:]
                  for t in view.tasks if t["state"] == "failed"}
    assert view.state == "success", failed

    state = ado_server.state
    repo = state.repos[DEMO_REPO]
    docs_ref = f"refs/heads/tp/{workitem}-docs"
    prs = sorted(state.pull_requests.values(), key=lambda p: p["pullRequestId"])
    assert [p["status"] for p in prs] == ["completed", "completed"], "the change PR, then the docs PR"
    pr, docs = prs
    assert docs["sourceRefName"] == docs_ref
    assert pr["sourceRefName"].startswith(f"refs/heads/tp/{workitem}-") and pr["sourceRefName"] != docs_ref
    assert [ref["id"] for ref in pr["workItemRefs"]] == [str(workitem)]
    assert any(p["refUpdates"][0]["name"] == pr["sourceRefName"] for p in state.pushes), "commits were pushed"
    assert {name for name, _ in repo.refs("refs/heads/tp/")} <= {pr["sourceRefName"], docs_ref}
    merge_commit = pr["lastMergeCommit"]["commitId"]

    stored = state.work_items[workitem]
    assert stored["fields"]["System.State"] == "Resolved"
    (comment,) = [c["text"] for c in state.comments[workitem]]
    assert f"PR {pr['pullRequestId']}" in comment and merge_commit in comment
    assert "Risk class: R0" in comment and "Approvals:" in comment and "Model cost: $0.0000" in comment

    # Our own writes come back as deliveries (the Resolved update among them): none may start a second run.
    settled(ado_server)
    assert len(state.pull_requests) == 2
    assert {name for name, _ in repo.refs("refs/heads/tp/")} <= {pr["sourceRefName"], docs_ref}
    outcomes = {(d["eventType"], d["outcome"]) for d in ado_server.deliveries()}
    assert outcomes == {("workitem.created", "delivered"), ("workitem.updated", "delivered")}
    assert spawned_runs(view.ticket_key) == 1


def settled(emulator: EmulatorServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(d["outcome"] == "pending" for d in emulator.deliveries()):
        assert time.monotonic() < deadline, emulator.deliveries()
        time.sleep(0.2)


def spawned_runs(key: str) -> int:
    with connect(autocommit=True) as conn:
        return conn.execute("SELECT count(*) AS n FROM ticketpilot.outbox WHERE ticket_key = %s AND run_id IS NOT NULL",
                            (key,)).fetchone()["n"]
