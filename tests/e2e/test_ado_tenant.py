"""End to end on Azure DevOps: tenant `contoso` is configured for the `ado` SCM with an Azure Pipelines
pipeline, and the ADO emulator plays Boards, Repos and Pipelines. A work item created on the board reaches our
ingress through the emulator's service hook; its ticket DAG branches, commits and opens a draft PR in the
emulator's repository, runs the tenant's pipeline on the branch, passes an R2 gate on an approver's vote in
ADO, completes the PR, and leaves the work item Resolved with a comment saying what was done. Under a fault
storm (429, 503, dropped connections before and after the work was done) every ticket still ends with
exactly one branch, one PR and one pipeline run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from include.contracts.ticket import dag_id, ticket_key
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.launcher.follow import RunView, follow
from include.launcher.platform import Platform
from include.scm.ado import AdoClient
from include.store.db import connect
from include.tenancy.provision import TenantSpec, provision
from tests.e2e.conftest import ADO_PAT, ADO_TENANT
from tests.emulators.ado.server import EmulatorServer

pytestmark = pytest.mark.e2e

PIPELINE = 7
CAROL = "carol-00-0000-4000-8000-0000000000c1"
CAROL_SIGN_IN = "carol-00@example.test"  # the emulator signs a reviewer in as <first 8 chars of id>@example.test
DAVE = "dave-000-0000-4000-8000-0000000000d1"
DAVE_SIGN_IN = "dave-000@example.test"


@pytest.fixture(scope="module")
def contoso(platform: Platform, ado_server: EmulatorServer) -> TenantSpec:
    spec = TenantSpec(tenant_id=ADO_TENANT, hook_username="contoso-hooks", hook_secret="contoso-hook-secret",
                      default_repo=DEMO_REPO, approvers=[CAROL_SIGN_IN, DAVE_SIGN_IN], scm_kind="ado",
                      ado_org=ado_server.state.org, ado_project=ado_server.state.project, ado_pipeline_id=PIPELINE)
    with platform.client() as client:
        provision(spec, client)
    ado_server.seed_repo(DEMO_REPO, demo_repo_files())
    ado_server.define_pipeline(PIPELINE, DEMO_REPO, result="succeeded", seconds=1)
    ado_server.subscribe(f"{platform.api_url}/ticketpilot/hooks/ado/{ADO_TENANT}",
                         ["workitem.created", "workitem.updated", "git.pullrequest.updated", "build.complete"],
                         basicAuthUsername=spec.hook_username, basicAuthPassword=spec.hook_secret,
                         retryDelayScale=0.1)
    return spec


def test_a_board_work_item_is_worked_to_resolved_in_ado(platform: Platform, ado_server: EmulatorServer,
                                                        contoso: TenantSpec) -> None:
    workitem = ado_server.seed_work_item({"System.Title": "Fix lint: remove unused imports",
                                          "System.Tags": "lint"})["id"]
    view = work(platform, workitem, on_gate=lambda v: [])

    state = ado_server.state
    pr, docs = ticket_prs(state.pull_requests.values(), workitem)
    assert [ref["id"] for ref in pr["workItemRefs"]] == [str(workitem)]
    assert any(p["refUpdates"][0]["name"] == pr["sourceRefName"] for p in state.pushes), "commits were pushed"
    assert_one_of_each(ado_server, workitem, pr, docs)
    merge_commit = pr["lastMergeCommit"]["commitId"]

    stored = state.work_items[workitem]
    assert stored["fields"]["System.State"] == "Resolved"
    (comment,) = [c["text"] for c in state.comments[workitem]]
    assert f"PR {pr['pullRequestId']}" in comment and merge_commit in comment
    assert "Risk class: R0" in comment and "Approvals:" in comment and "Model cost: $0.0000" in comment

    # Our own writes come back as deliveries (the Resolved update, the build): none may start a second run.
    settled(ado_server)
    assert_one_of_each(ado_server, workitem, pr, docs)
    outcomes = {(d["eventType"], d["outcome"]) for d in ado_server.deliveries()}
    assert outcomes == {("workitem.created", "delivered"), ("workitem.updated", "delivered"),
                        ("build.complete", "delivered")}
    assert spawned_runs(view.ticket_key) == 1
    assert [t["task_id"] for t in view.tasks if t["task_id"].startswith("ci_")] == ["ci_queue", "ci_wait"]


def test_an_approvers_vote_in_ado_passes_the_r2_gate(platform: Platform, ado_server: EmulatorServer,
                                                     contoso: TenantSpec) -> None:
    workitem = ado_server.seed_work_item({"System.Title": "Bump requests to 2.32.3",
                                          "System.Tags": "dependencies; risk:R2"})["id"]
    view = work(platform, workitem, on_gate=votes_in_ado(ado_server, CAROL))
    assert view.approved_by == [CAROL_SIGN_IN]
    with connect(autocommit=True) as conn:
        made = conn.execute("SELECT approver, source FROM ticketpilot.gate_decisions WHERE ticket_key = %s",
                            (view.ticket_key,)).fetchall()
    assert [(d["approver"], d["source"]) for d in made] == [(CAROL_SIGN_IN, "ado")]
    pr, docs = ticket_prs(ado_server.state.pull_requests.values(), workitem)
    assert_one_of_each(ado_server, workitem, pr, docs)
    (comment,) = [c["text"] for c in ado_server.state.comments[workitem]]
    assert "Risk class: R2" in comment and CAROL_SIGN_IN in comment


def test_under_a_fault_storm_each_ticket_gets_one_branch_one_pr_one_pipeline_run(
        platform: Platform, ado_server: EmulatorServer, contoso: TenantSpec) -> None:
    ado_server.arm(
        {"path_regex": r"/git/repositories/[^/]+/pushes$", "method": "POST", "status": "drop_after", "count": 2},
        {"path_regex": r"/git/repositories/[^/]+/pushes$", "method": "POST", "status": 429, "retry_after": 0.3},
        {"path_regex": r"/git/repositories/[^/]+/pullrequests$", "method": "POST", "status": "drop_after"},
        {"path_regex": r"/git/repositories/[^/]+/pullrequests$", "method": "POST", "status": 503, "count": 2},
        {"path_regex": r"/pipelines/\d+/runs$", "method": "POST", "status": "drop_after"},
        {"path_regex": r"/build/builds$", "status": 429, "retry_after": 0.2, "count": 2},
        {"path_regex": r"/git/repositories/[^/]+/refs", "status": "drop", "count": 3},
        {"path_regex": r"/pullrequests/\d+$", "method": "PATCH", "status": "drop_after", "count": 2},
        {"path_regex": r"/wit/workitems/\d+$", "method": "PATCH", "status": "drop_after"},
        {"path_regex": r"/_apis/", "status": "slow", "delay": 0.3, "rate_limit_remaining": 10, "count": 20},
    )
    workitems = [ado_server.seed_work_item({"System.Title": title, "System.Tags": tags})["id"] for title, tags in (
        # The repository has CI since the first ticket's PR: a CI ticket would now be refused as nothing to do.
        ("Fix wording in README: 'payment provider' -> 'payment service provider'", "docs"),
        ("Remove leaked Stripe API key from config", "security"),  # R3: a named approver and a second person
    )]
    work(platform, *workitems, on_gate=votes_in_ado(ado_server, CAROL, DAVE))
    fired = ado_server.state.faults.fired
    assert {"drop_after", "429", "503", "drop", "slow"} <= set(fired), fired
    for workitem in workitems:
        pr, docs = ticket_prs(ado_server.state.pull_requests.values(), workitem)
        assert_one_of_each(ado_server, workitem, pr, docs)
        assert ado_server.state.work_items[workitem]["fields"]["System.State"] == "Resolved"
        assert len(ado_server.state.comments[workitem]) == 1, "one resolution comment, however often it was sent"
    ado_server.admin("DELETE", "faults")


# --- helpers ---------------------------------------------------------------------------------------------------

def work(platform: Platform, *workitems: int, on_gate: Any) -> RunView:
    """Follow the work items' ticket runs to the end; every one must succeed. Returns the last view."""
    views = {ticket_key(ADO_TENANT, w): RunView(ticket_key=ticket_key(ADO_TENANT, w), dag_id=dag_id(ADO_TENANT, w))
             for w in workitems}
    with platform.client() as client:
        follow(client, views, on_gate=on_gate, timeout=600)
        failed = {(v.dag_id, t["task_id"]): client.task_log(v.dag_id, v.run_id, t["task_id"], t["try_number"])[-3000:]
                  for v in views.values() for t in v.tasks if t["state"] == "failed"}
    assert [v.state for v in views.values()] == ["success"] * len(views), failed
    return views[ticket_key(ADO_TENANT, workitems[-1])]


def votes_in_ado(emulator: EmulatorServer, *reviewers: str) -> Any:
    """An on_gate callback: the reviewers approve the ticket's change PR in ADO (nothing else approves)."""
    client = AdoClient.with_pat(emulator.org_url, emulator.state.project, ADO_PAT)

    def vote(view: RunView) -> list[str]:
        workitem = int(view.ticket_key.rsplit("-", 1)[1])
        (pr,) = [p for p in emulator.state.pull_requests.values()
                 if p["sourceRefName"].startswith(f"refs/heads/tp/{workitem}-")
                 and not p["sourceRefName"].endswith("-docs")]
        for reviewer in reviewers:
            client.set_vote(DEMO_REPO, pr["pullRequestId"], reviewer, 10)
        return [f"{reviewer[:8]}@example.test" for reviewer in reviewers]

    return vote


def ticket_prs(prs: Any, workitem: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The change PR and the docs PR of a work item, both completed."""
    docs_ref = f"refs/heads/tp/{workitem}-docs"
    mine = sorted((p for p in prs if p["sourceRefName"].startswith(f"refs/heads/tp/{workitem}-")),
                  key=lambda p: p["pullRequestId"])
    assert [p["status"] for p in mine] == ["completed", "completed"], "the change PR, then the docs PR"
    pr, docs = mine
    assert docs["sourceRefName"] == docs_ref and pr["sourceRefName"] != docs_ref
    return pr, docs


def assert_one_of_each(emulator: EmulatorServer, workitem: int, pr: dict[str, Any], docs: dict[str, Any]) -> None:
    """One change branch (plus the docs branch), one PR from each, one pipeline run of the change branch at the
    commit that was merged, and it succeeded."""
    state = emulator.state
    branches = {name for name, _ in state.repos[DEMO_REPO].refs(f"refs/heads/tp/{workitem}-")}
    assert branches <= {pr["sourceRefName"], docs["sourceRefName"]}
    assert sum(p["sourceRefName"] == pr["sourceRefName"] for p in state.pull_requests.values()) == 1
    runs = [b for b in state.builds.values() if b["sourceBranch"] == pr["sourceRefName"]]
    assert [(b["result"], b["sourceVersion"]) for b in runs] == [("succeeded",
                                                                  pr["lastMergeSourceCommit"]["commitId"])]


def settled(emulator: EmulatorServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(d["outcome"] == "pending" for d in emulator.deliveries()):
        assert time.monotonic() < deadline, emulator.deliveries()
        time.sleep(0.2)


def spawned_runs(key: str) -> int:
    with connect(autocommit=True) as conn:
        return conn.execute("SELECT count(*) AS n FROM ticketpilot.outbox WHERE ticket_key = %s AND run_id IS NOT NULL",
                            (key,)).fetchone()["n"]
