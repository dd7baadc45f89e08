"""Reading an ado tenant's gate votes, batched: one listing of the project's active PRs per round for every
gate that waits there, against the ADO emulator; only a PR that left `active` is read on its own."""

from __future__ import annotations

import httpx
import psycopg

from include.contracts import RiskClass
from include.scm.ado import AdoClient
from include.store import gates
from tests.emulators.ado.fixtures import ado_emulator, ado_server
from tests.emulators.ado.server import EmulatorServer
from triggers.gate_votes import AdoVotes, pull_votes_by_connection

__all__ = ["ado_emulator", "ado_server"]

CAROL = "carol-00-0000-4000-8000-0000000000c1"  # the emulator signs reviewers in as <first 8 chars>@example.test
RUN_ID = "ticket__r1"


class Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path.split('/_apis/', 1)[1]}")
        return super().handle_request(request)


def test_one_listing_per_project_reads_every_waiting_gates_votes(
        db: psycopg.Connection, ado_emulator: EmulatorServer) -> None:
    seeding = AdoClient.with_pat(ado_emulator.org_url, "proj", "pat")
    main = {repo: ado_emulator.seed_repo(repo, {"README.md": "hi\n"}) for repo in ("app", "api")}
    waiting: dict[str, AdoVotes] = {}
    for n, repo in enumerate(["app", "api", "app", "api"], start=1):
        seeding.create_branch(repo, f"tp/{n}-x", main[repo])
        pr_id = seeding.create_pr(repo, f"tp/{n}-x", "main", f"ticket {n}", is_draft=False).pull_request_id
        key = f"demo-{n}"
        gates.request_gate(db, ticket_key=key, run_id=RUN_ID, risk_class=RiskClass.R2, named_approvers=[])
        waiting[key] = AdoVotes(azure_devops_conn_id="ado_demo", repo=repo, pr_id=pr_id,
                                approvers=["Carol-00@example.test"])
        if n != 2:
            seeding.set_vote(repo, pr_id, CAROL, 10 if n != 3 else -10)
    seeding.abandon_pr("app", waiting["demo-1"]["pr_id"])  # no longer active: read on its own

    transport = Counting()
    client = AdoClient.with_pat(ado_emulator.org_url, "proj", "pat", transport=transport)
    broken = pull_votes_by_connection(waiting, {}, open_client=lambda conn_id: client)

    assert broken == {}
    assert [gates.get_gate(db, f"demo-{n}", RUN_ID)["status"] for n in (1, 2, 3, 4)] == \
        ["approved", "pending", "rejected", "approved"]
    assert transport.paths == [
        "GET git/pullrequests",
        f"GET git/repositories/app/pullRequests/{waiting['demo-1']['pr_id']}/reviewers",
    ], "one listing for the project's three active PRs, one read for the abandoned one"


def test_a_connection_that_cannot_open_is_reported_and_others_still_read(
        db: psycopg.Connection, ado_emulator: EmulatorServer) -> None:
    seeding = AdoClient.with_pat(ado_emulator.org_url, "proj", "pat")
    main = ado_emulator.seed_repo("app", {"README.md": "hi\n"})
    seeding.create_branch("app", "tp/7-x", main)
    pr_id = seeding.create_pr("app", "tp/7-x", "main", "ticket 7", is_draft=False).pull_request_id
    seeding.set_vote("app", pr_id, CAROL, 10)
    gates.request_gate(db, ticket_key="demo-7", run_id=RUN_ID, risk_class=RiskClass.R2, named_approvers=[])
    waiting = {"demo-7": AdoVotes(azure_devops_conn_id="ado_demo", repo="app", pr_id=pr_id,
                                  approvers=["carol-00@example.test"]),
               "other-1": AdoVotes(azure_devops_conn_id="ado_missing", repo="app", pr_id=99,
                                   approvers=["carol-00@example.test"])}

    def open_client(conn_id: str) -> AdoClient:
        if conn_id == "ado_missing":
            raise LookupError("The conn_id `ado_missing` isn't defined")
        return seeding

    broken = pull_votes_by_connection(waiting, {}, open_client=open_client)
    assert broken == {"ado_missing": "LookupError: The conn_id `ado_missing` isn't defined"}
    assert gates.get_gate(db, "demo-7", RUN_ID)["status"] == "approved"
