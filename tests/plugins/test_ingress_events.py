"""The hook route beyond work-item snapshots: comments, PR votes, builds, tenant scope, header secret and
rate limit, against the real embedded PostgreSQL with Microsoft's sample payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from include.contracts.risk import RiskClass
from include.store import gates
from include.store.tenants import HOOK_SECRET_HEADER, create_tenant
from plugins.ingress.app import URL_PREFIX
from tests.plugins.conftest import make_client

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "ado-events"
TENANT, HOOK_USER, HOOK_SECRET = "acme", "ado-acme", "s3cret-hook"
HOOK = f"{URL_PREFIX}/hooks/ado/{TENANT}"
APPROVERS = ["alice@example.com", "bob@example.com"]
BRANCH = "refs/heads/tp/5-some-great-new-idea"
DATA_TABLES = ("deliveries", "tickets", "outbox", "ticket_comments", "ticket_builds", "gate_decisions")


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) AS n FROM ticketpilot.{t}").fetchone()["n"] for t in DATA_TABLES}


NOTHING = dict.fromkeys(DATA_TABLES, 0)


@pytest.fixture
def tenant(db: psycopg.Connection) -> None:
    create_tenant(db, TENANT, HOOK_USER, HOOK_SECRET, "web", APPROVERS)


def post(client: TestClient, body: object, headers: dict[str, str] | None = None) -> Any:
    return client.post(HOOK, content=json.dumps(body).encode(), auth=(HOOK_USER, HOOK_SECRET),
                       headers={"Content-Type": "application/json", **(headers or {})})


def pr_with_votes(event_id: str, *votes: tuple[str, int]) -> dict[str, Any]:
    payload = event("git.pullrequest.updated")
    payload["id"] = event_id
    payload["resource"]["sourceRefName"] = BRANCH
    payload["resource"]["reviewers"] += [{"uniqueName": name, "displayName": name, "vote": vote}
                                         for name, vote in votes]
    return payload


@pytest.fixture
def ticket_with_gate(client: TestClient, db: psycopg.Connection, tenant: None) -> None:
    assert post(client, event("workitem.created")).status_code == 202
    gates.request_gate(db, ticket_key="acme-5", run_id="ticket__r1", risk_class=RiskClass.R2,
                       named_approvers=APPROVERS)


def test_comment_is_recorded_once_and_never_approves(client: TestClient, db: psycopg.Connection,
                                                     ticket_with_gate: None) -> None:
    payload = event("workitem.commented")
    payload["resource"]["fields"].update({"System.History": "<div>/ticketpilot approve</div>",
                                          "System.ChangedBy": "Alice <alice@example.com>"})
    first = post(client, payload)
    assert first.status_code == 202, first.text
    assert first.json() == {"event_type": "workitem.commented", "ticket_key": "acme-5", "recorded": 1,
                            "note": "comment recorded; comments never approve or reject a gate"}
    again = post(client, payload)
    assert again.status_code == 200 and again.json()["recorded"] == 0
    rows = db.execute("SELECT ticket_key, rev, author, body FROM ticketpilot.ticket_comments").fetchall()
    assert rows == [{"ticket_key": "acme-5", "rev": 4, "author": "Alice <alice@example.com>",
                     "body": "/ticketpilot approve"}]
    assert gates.get_gate(db, "acme-5")["status"] == "pending" and counts(db)["gate_decisions"] == 0


def test_comment_on_an_untracked_work_item_is_ignored(client: TestClient, db: psycopg.Connection,
                                                      tenant: None) -> None:
    response = post(client, event("workitem.commented"))
    assert response.status_code == 200 and response.json()["ticket_key"] is None
    assert counts(db) == NOTHING


def test_approver_vote_approves_the_gate_with_source_ado(client: TestClient, db: psycopg.Connection,
                                                         ticket_with_gate: None) -> None:
    payload = pr_with_votes("pr-evt-1", ("Alice@Example.com", 10), ("mallory@example.com", 10))
    response = post(client, payload)
    assert response.status_code == 202, response.text
    assert response.json()["recorded"] == 1
    assert gates.get_gate(db, "acme-5")["status"] == "approved"
    assert [(d["approver"], d["decision"], d["source"], d["comment"])
            for d in gates.decisions(db, "acme-5", "ticket__r1")] == [
        ("alice@example.com", "approve", "ado", "ADO pull request 1: approve")]
    audit = db.execute("SELECT actor, action, details->>'source' AS source FROM ticketpilot.audit_log "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    assert audit == {"actor": "alice@example.com", "action": "gate.approve", "source": "ado"}
    assert post(client, payload).status_code == 200  # ADO's retry of the same delivery
    later = post(client, pr_with_votes("pr-evt-2", ("alice@example.com", 10), ("bob@example.com", 10)))
    assert later.status_code == 200 and later.json()["recorded"] == 0  # the gate is decided already


def test_approver_reject_vote_rejects_and_other_votes_are_ignored(client: TestClient, db: psycopg.Connection,
                                                                  ticket_with_gate: None) -> None:
    waiting = post(client, pr_with_votes("pr-evt-1", ("bob@example.com", -5), ("bob@example.com", 0)))
    assert waiting.status_code == 200 and waiting.json()["recorded"] == 0
    rejected = post(client, pr_with_votes("pr-evt-2", ("bob@example.com", -10)))
    assert rejected.status_code == 202
    assert gates.get_gate(db, "acme-5")["status"] == "rejected"
    assert [(d["approver"], d["decision"], d["source"]) for d in gates.decisions(db, "acme-5", "ticket__r1")] == [
        ("bob@example.com", "reject", "ado")]


def test_pull_request_of_another_branch_is_ignored(client: TestClient, db: psycopg.Connection,
                                                   tenant: None) -> None:
    response = post(client, event("git.pullrequest.updated"))
    assert response.status_code == 200
    assert response.json()["note"] == "branch 'refs/heads/mytopic' is not a ticket branch; ignored"
    assert counts(db) == NOTHING


def test_build_of_a_ticket_branch_is_recorded(client: TestClient, db: psycopg.Connection, tenant: None) -> None:
    assert post(client, event("workitem.created")).status_code == 202
    payload = event("build.complete")
    payload["resource"]["sourceGetVersion"] = f"LG:{BRANCH}:600c52d2d5b655caa111abfd863e5a9bd304bb0e"
    response = post(client, payload)
    assert response.status_code == 202 and response.json()["note"] == "build 2 succeeded"
    assert post(client, payload).status_code == 200
    row = db.execute("SELECT ticket_key, build_id, branch, result FROM ticketpilot.ticket_builds").fetchone()
    assert row == {"ticket_key": "acme-5", "build_id": 2, "branch": BRANCH, "result": "succeeded"}
    unrelated = post(client, event("build.complete"))
    assert unrelated.status_code == 200 and unrelated.json()["recorded"] == 0


@pytest.mark.parametrize(("org", "project", "name", "reason"), [
    ("contoso", None, "workitem.created", "organisation 'fabrikam-fiber-inc', not 'contoso'"),
    (None, "Billing", "workitem.created", "project 'FabrikamCloud', not 'Billing'"),
    ("fabrikam-fiber-inc", None, "git.pullrequest.updated", "organisation 'fabrikam', not 'fabrikam-fiber-inc'"),
    ("contoso", None, "build.complete", "organisation 'fabrikam-fiber-inc', not 'contoso'"),
    ("contoso", None, "workitem.commented", "organisation 'fabrikam-fiber-inc', not 'contoso'"),
])
def test_another_organisation_or_project_is_403_and_stores_nothing(
        client: TestClient, db: psycopg.Connection, org: str | None, project: str | None, name: str,
        reason: str) -> None:
    create_tenant(db, TENANT, HOOK_USER, HOOK_SECRET, "web", APPROVERS, ado_org=org, ado_project=project)
    response = post(client, event(name))
    assert response.status_code == 403, response.text
    assert response.json() == {"detail": f"tenant acme: the delivery comes from {reason}"}
    assert counts(db) == NOTHING


def test_the_declared_organisation_and_project_are_accepted(client: TestClient, db: psycopg.Connection) -> None:
    create_tenant(db, TENANT, HOOK_USER, HOOK_SECRET, "web", APPROVERS, ado_org="Fabrikam-Fiber-Inc",
                  ado_project="FabrikamCloud")
    assert post(client, event("workitem.created")).status_code == 202


def test_a_configured_header_secret_is_required(client: TestClient, db: psycopg.Connection) -> None:
    create_tenant(db, TENANT, HOOK_USER, HOOK_SECRET, "web", APPROVERS, header_secret="header-s3cret")
    for headers in ({}, {HOOK_SECRET_HEADER: "wrong"}):
        refused = post(client, event("workitem.created"), headers)
        assert refused.status_code == 401 and refused.json() == {"detail": "invalid or missing hook credentials"}
    assert counts(db) == NOTHING
    assert post(client, event("workitem.created"), {HOOK_SECRET_HEADER: "header-s3cret"}).status_code == 202


def test_over_the_rate_limit_is_503_with_retry_after(db_url: str, db: psycopg.Connection, tenant: None) -> None:
    for client in make_client(db_url, hook_rate_per_s=0.01, hook_burst=2):
        assert post(client, event("workitem.created")).status_code == 202
        assert post(client, event("workitem.updated")).status_code == 202
        shed = post(client, event("workitem.commented"))
        assert shed.status_code == 503 and int(shed.headers["Retry-After"]) >= 1
        assert "over its hook rate limit" in shed.json()["detail"]
    assert counts(db)["ticket_comments"] == 0


def test_a_tenants_own_limit_overrides_the_default(client: TestClient, db: psycopg.Connection) -> None:
    create_tenant(db, TENANT, HOOK_USER, HOOK_SECRET, "web", APPROVERS, hook_rate_per_s=0.01, hook_burst=1)
    assert post(client, event("workitem.created")).status_code == 202
    assert post(client, event("workitem.created")).status_code == 503


def test_a_saturated_ingress_sheds_with_503_and_stores_nothing(db_url: str, db: psycopg.Connection,
                                                               tenant: None) -> None:
    for client in make_client(db_url, hook_max_in_flight=0):
        shed = post(client, event("workitem.created"))
        assert shed.status_code == 503 and shed.headers["Retry-After"] == "2"
        assert "ingress saturated" in shed.json()["detail"]
    assert counts(db) == NOTHING


def test_in_flight_count_returns_to_zero_whatever_the_answer(db_url: str, db: psycopg.Connection,
                                                              tenant: None) -> None:
    for client in make_client(db_url, hook_max_in_flight=1):
        assert post(client, event("workitem.created")).status_code == 202
        assert post(client, {"eventType": "git.push"}).status_code == 422
        # with room for one, a leaked count after the 422 would shed this one
        assert post(client, event("workitem.created")).status_code == 200
