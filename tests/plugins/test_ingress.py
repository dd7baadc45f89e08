"""The ingress app against the real embedded PostgreSQL, mounted under its prefix as Airflow mounts it.

Gate routes are called with real Airflow JWTs: the SimpleAuthManager signs them with a test secret and
Airflow's own validator checks them (including the revoked-token lookup, for which a throwaway SQLite
metadata database holds the one table it reads). Nothing is overridden in the app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from include.contracts.risk import RiskClass
from include.store import gates
from include.store.tenants import create_tenant
from plugins.ingress.app import URL_PREFIX, create_app
from plugins.ingress.hooks import MAX_BODY_BYTES
from tests.plugins.conftest import Token, bearer

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "ado-events"
TENANT, HOOK_USER, HOOK_SECRET = "acme", "ado-acme", "s3cret-hook"
HOOK = f"{URL_PREFIX}/hooks/ado/{TENANT}"


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM ticketpilot.{table}").fetchone()["n"]


@pytest.fixture
def app(db_url: str) -> Iterator[FastAPI]:
    app = create_app(db_url)
    yield app
    app.state.ingress.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    root = FastAPI()
    root.mount(URL_PREFIX, app)
    with TestClient(root) as client:
        yield client


@pytest.fixture
def tenant(db: psycopg.Connection) -> None:
    create_tenant(db, TENANT, HOOK_USER, HOOK_SECRET, "web", ["alice"])


def post_hook(client: TestClient, body: object, auth: tuple[str, str] | None = (HOOK_USER, HOOK_SECRET),
              raw: bytes | None = None) -> Any:
    content = raw if raw is not None else json.dumps(body).encode()
    return client.post(HOOK, content=content, auth=auth, headers={"Content-Type": "application/json"})


def test_health(client: TestClient) -> None:
    response = client.get(f"{URL_PREFIX}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_new_delivery_is_202_and_its_repeat_200(client: TestClient, db: psycopg.Connection, tenant: None) -> None:
    expected = {"ticket_key": "acme-5", "dag_id": "ticket__acme__5", "rev": 1}
    first = post_hook(client, event("workitem.created"))
    assert first.status_code == 202 and first.json() == expected
    again = post_hook(client, event("workitem.created"))
    assert again.status_code == 200 and again.json() == expected
    assert (count(db, "deliveries"), count(db, "tickets"), count(db, "outbox")) == (1, 1, 1)


def test_update_advances_the_ticket_without_a_second_spawn(client: TestClient, db: psycopg.Connection,
                                                           tenant: None) -> None:
    assert post_hook(client, event("workitem.created")).status_code == 202
    updated = post_hook(client, event("workitem.updated"))
    assert updated.status_code == 202 and updated.json()["rev"] == 2
    assert db.execute("SELECT rev FROM ticketpilot.tickets").fetchone()["rev"] == 2
    assert count(db, "outbox") == 1


@pytest.mark.parametrize(
    ("path", "auth"),
    [(HOOK, (HOOK_USER, "wrong")), (HOOK, ("someone", HOOK_SECRET)), (HOOK, None),
     (f"{URL_PREFIX}/hooks/ado/unknown", (HOOK_USER, HOOK_SECRET))],
)
def test_bad_credentials_are_401_and_store_nothing(client: TestClient, db: psycopg.Connection, tenant: None,
                                                   path: str, auth: tuple[str, str] | None) -> None:
    response = client.post(path, json=event("workitem.created"), auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json() == {"detail": "invalid or missing hook credentials"}  # same for unknown tenants
    assert (count(db, "deliveries"), count(db, "tickets")) == (0, 0)


def test_a_rotated_secret_works_at_once(client: TestClient, db: psycopg.Connection, tenant: None) -> None:
    assert post_hook(client, event("workitem.created")).status_code == 202  # tenant now cached
    create_tenant(db, TENANT, HOOK_USER, "rotated-secret", "web", ["alice"])
    assert post_hook(client, event("workitem.updated"), auth=(HOOK_USER, "rotated-secret")).status_code == 202


@pytest.mark.parametrize("raw", [b'{"id": "x",', b"[" * 100_000 + b"]" * 100_000], ids=["truncated", "nested-100k"])
def test_malformed_json_is_400(client: TestClient, db: psycopg.Connection, tenant: None, raw: bytes) -> None:
    response = post_hook(client, None, raw=raw)
    assert response.status_code == 400 and response.json()["detail"].startswith("body is not valid JSON")
    assert count(db, "deliveries") == 0


def test_an_oversized_body_is_413_and_stores_nothing(client: TestClient, db: psycopg.Connection, tenant: None) -> None:
    huge = event("workitem.created")
    huge["resource"]["fields"]["System.Description"] = "x" * (MAX_BODY_BYTES + 1)
    response = post_hook(client, huge)
    assert response.status_code == 413 and "over the 2097152 bytes a delivery may have" in response.json()["detail"]
    assert count(db, "deliveries") == 0 and count(db, "tickets") == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [(event("git.push"), "eventType 'git.push' is not supported; supported: workitem.created, "
                         "workitem.updated, workitem.commented, git.pullrequest.updated, build.complete"),
     ([event("workitem.created")], "a delivery must be a JSON object, got an array")],
)
def test_unusable_delivery_is_422_with_the_reason(client: TestClient, db: psycopg.Connection, tenant: None,
                                                  body: object, reason: str) -> None:
    response = post_hook(client, body)
    assert response.status_code == 422 and response.json() == {"detail": reason}
    assert count(db, "deliveries") == 0


@pytest.fixture
def r2_gate(db: psycopg.Connection) -> dict[str, Any]:
    return gates.request_gate(db, ticket_key="acme-5", run_id="run-1", risk_class=RiskClass.R2, named_approvers=[])


def test_a_gate_decision_nested_too_deeply_is_400(client: TestClient, db: psycopg.Connection, token: Token,
                                                 r2_gate: dict[str, Any]) -> None:
    response = client.post(f"{URL_PREFIX}/gates/acme-5/approve", content=b"[" * 100_000 + b"]" * 100_000,
                           headers={"Content-Type": "application/json", **bearer(token("alice"))})
    assert response.status_code == 400, response.text
    assert gates.get_gate(db, "acme-5", "run-1")["status"] == "pending"


@pytest.mark.parametrize("headers", [{}, bearer("not-a-jwt")])
def test_gate_routes_need_an_airflow_identity(client: TestClient, token: Token, r2_gate: dict[str, Any],
                                              headers: dict[str, str]) -> None:
    for method, path in [("post", "/approve"), ("post", "/reject"), ("get", "")]:
        response = client.request(method.upper(), f"{URL_PREFIX}/gates/acme-5{path}", json={}, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_approve_records_the_token_user(client: TestClient, db: psycopg.Connection, token: Token,
                                        r2_gate: dict[str, Any]) -> None:
    response = client.post(f"{URL_PREFIX}/gates/acme-5/approve", json={"comment": "looks right"},
                           headers=bearer(token("alice")))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["run_id"], body["risk_class"]) == ("approved", "run-1", "R2")
    assert [(d["approver"], d["decision"], d["comment"], d["source"]) for d in body["decisions"]] == [
        ("alice", "approve", "looks right", "rest")]
    audit = db.execute("SELECT actor, action FROM ticketpilot.audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert audit == {"actor": "alice", "action": "gate.approve"}

    read = client.get(f"{URL_PREFIX}/gates/acme-5", headers=bearer(token("carol", role="viewer")))
    assert read.status_code == 200 and read.json() == body
    replay = client.post(f"{URL_PREFIX}/gates/acme-5/approve", json={}, headers=bearer(token("bob")))
    assert replay.status_code == 409 and "already approved" in replay.json()["detail"]


def test_reject_by_anyone_allowed_rejects_an_r3_gate(client: TestClient, db: psycopg.Connection,
                                                     token: Token) -> None:
    gates.request_gate(db, ticket_key="acme-7", run_id="run-9", risk_class=RiskClass.R3, named_approvers=["alice"])
    response = client.post(f"{URL_PREFIX}/gates/acme-7/reject", json={"comment": "no", "run_id": "run-9"},
                           headers=bearer(token("bob", role="op")))
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["decisions"][0]["approver"] == "bob"


def test_viewers_may_read_but_not_decide(client: TestClient, token: Token, r2_gate: dict[str, Any]) -> None:
    viewer = bearer(token("vic", role="viewer"))
    assert client.get(f"{URL_PREFIX}/gates/acme-5", headers=viewer).status_code == 200
    response = client.post(f"{URL_PREFIX}/gates/acme-5/approve", json={}, headers=viewer)
    assert response.status_code == 403 and "may not change runs of ticket__acme__5" in response.json()["detail"]


def test_a_revoked_token_is_refused(client: TestClient, auth_manager: Any, token: Token,
                                    r2_gate: dict[str, Any]) -> None:
    revoked = token("alice")
    auth_manager.revoke_token(revoked)
    assert client.post(f"{URL_PREFIX}/gates/acme-5/approve", json={}, headers=bearer(revoked)).status_code == 401


def test_unknown_gate_or_key_is_404(client: TestClient, db: psycopg.Connection, token: Token) -> None:
    headers = bearer(token("alice"))
    assert client.post(f"{URL_PREFIX}/gates/acme-404/approve", json={}, headers=headers).status_code == 404
    assert client.get(f"{URL_PREFIX}/gates/not_a_key", headers=headers).status_code == 404


def test_the_approver_cannot_be_named_in_the_body(client: TestClient, token: Token,
                                                  r2_gate: dict[str, Any]) -> None:
    response = client.post(f"{URL_PREFIX}/gates/acme-5/approve", json={"approver": "mallory"},
                           headers=bearer(token("alice")))
    assert response.status_code == 422


def test_approver_not_allowed_is_403(client: TestClient, token: Token, r2_gate: dict[str, Any],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(conn: psycopg.Connection, decision: Any) -> dict[str, Any]:
        raise gates.ApproverNotAllowed(f"{decision.approver} is not a named approver")

    monkeypatch.setattr(gates, "record_decision", refuse)
    response = client.post(f"{URL_PREFIX}/gates/acme-5/approve", json={}, headers=bearer(token("alice")))
    assert response.status_code == 403 and response.json() == {"detail": "alice is not a named approver"}
