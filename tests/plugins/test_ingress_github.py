"""The GitHub issues hook against the real embedded PostgreSQL, mounted under its prefix as Airflow mounts it,
with the samples behind GitHub's webhook documentation (tests/fixtures/github-events), signed as GitHub signs.

The tenant's webhook secret is stored encrypted with a real Fernet key, set the way a deployment sets it
(`AIRFLOW__CORE__FERNET_KEY`); nothing in the app is overridden.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow.models.crypto import get_fernet
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from include.contracts.ticket import TicketState
from include.store.tenants import Tenant, check_github_signature, create_tenant, secret_digest
from include.store.tickets import get_ticket
from plugins.ingress.app import URL_PREFIX
from plugins.ingress.hooks import MAX_BODY_BYTES
from tests.plugins.conftest import make_client

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "github-events"
TENANT, OWNER, WEBHOOK_SECRET = "acme", "Codertocat", "It's a Secret to Everybody"
HOOK = f"{URL_PREFIX}/hooks/github/{TENANT}"
OPENED_AT = 1557933618  # issue.updated_at of the samples, 2019-05-15T15:20:18Z, in epoch seconds
DATA_TABLES = ("deliveries", "tickets", "outbox")
NOTHING = dict.fromkeys(DATA_TABLES, 0)
BODY = """Exports are needed for the monthly report.

## Acceptance criteria
- [ ] the CSV has a header row
- [x] dates are ISO 8601

## Notes
Ask finance for a sample."""


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def issue_event(action: str = "opened", *, updated_at: str = "2019-05-15T15:20:18Z", **issue: Any) -> dict[str, Any]:
    """The `opened` sample as GitHub sends it for `action`, the issue changed as given."""
    payload = copy.deepcopy(event("issues.opened"))
    payload["action"] = action
    payload["issue"].update(updated_at=updated_at, **issue)
    return payload


def epoch(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp())


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) AS n FROM ticketpilot.{t}").fetchone()["n"] for t in DATA_TABLES}


def signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client: TestClient, body: object, *, event_name: str = "issues", delivery: str | None = "delivery-1",
         signed_with: str | None = WEBHOOK_SECRET, raw: bytes | None = None, path: str = HOOK) -> Any:
    content = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event_name,
               "User-Agent": "GitHub-Hookshot/044aadd"}
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    if signed_with is not None:
        headers["X-Hub-Signature-256"] = signature(content, signed_with)
    return client.post(path, content=content, headers=headers)


@pytest.fixture
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", key)
    get_fernet.cache_clear()
    yield key
    get_fernet.cache_clear()


def github_tenant(db: psycopg.Connection, owner: str | None = OWNER, secret: str | None = WEBHOOK_SECRET,
                  **settings: Any) -> Tenant:
    return create_tenant(db, TENANT, "hooks-acme", "basic-secret", "web", ["alice"], scm_kind="github",
                         github_owner=owner, github_webhook_secret=secret, **settings)


@pytest.fixture
def tenant(db: psycopg.Connection, fernet_key: str) -> Tenant:
    return github_tenant(db)


def test_the_signature_check_matches_githubs_documented_example(tenant: Tenant) -> None:
    # docs.github.com, "Validating webhook deliveries": secret "It's a Secret to Everybody", payload
    # "Hello, World!" → this signature.
    documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert check_github_signature(tenant, b"Hello, World!", documented)
    assert not check_github_signature(tenant, b"Hello, World?", documented)
    assert not check_github_signature(tenant, b"Hello, World!", documented.upper())
    assert not check_github_signature(tenant, b"Hello, World!", None)
    assert not check_github_signature(None, b"Hello, World!", documented)


def test_the_secret_is_stored_encrypted_with_airflows_fernet_key(db: psycopg.Connection, tenant: Tenant,
                                                                 fernet_key: str) -> None:
    stored = db.execute("SELECT github_secret_fernet FROM ticketpilot.tenants").fetchone()["github_secret_fernet"]
    assert WEBHOOK_SECRET not in stored and secret_digest(WEBHOOK_SECRET) != stored
    assert Fernet(fernet_key.encode()).decrypt(stored.encode()).decode() == WEBHOOK_SECRET
    assert WEBHOOK_SECRET not in repr(tenant) and stored not in repr(tenant)


def test_without_a_fernet_key_no_secret_is_stored(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    get_fernet.cache_clear()
    try:
        with pytest.raises(ValueError, match="needs Airflow's Fernet key: set AIRFLOW__CORE__FERNET_KEY"):
            github_tenant(db)
    finally:
        get_fernet.cache_clear()
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.tenants").fetchone()["n"] == 0


def test_a_secret_needs_the_owner_it_is_checked_against(db: psycopg.Connection, fernet_key: str) -> None:
    with pytest.raises(ValueError, match="has a GitHub webhook secret but no github_owner"):
        github_tenant(db, owner=None)
    github_tenant(db)
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE ticketpilot.tenants SET github_owner = NULL")


def test_opened_issue_is_202_and_becomes_a_ticket_and_a_dag(client: TestClient, db: psycopg.Connection,
                                                           tenant: Tenant) -> None:
    response = post(client, issue_event(body=BODY))
    assert response.status_code == 202, response.text
    assert response.json() == {"ticket_key": "acme-1", "dag_id": "ticket__acme__1", "rev": OPENED_AT}
    ticket = get_ticket(db, "acme-1")
    assert ticket is not None
    assert (ticket.title, ticket.source, ticket.workitem_id, ticket.rev, ticket.state) == (
        "Spelling error in the README file", "github", 1, OPENED_AT, TicketState.OPEN)
    assert ticket.description == "Exports are needed for the monthly report.\n\n## Notes\nAsk finance for a sample."
    assert ticket.acceptance_criteria == ["the CSV has a header row", "dates are ISO 8601"]
    assert (ticket.tags, ticket.repo, ticket.source_state, ticket.work_item_type) == (
        ["bug"], "Hello-World", "open", "Issue")
    assert (ticket.url, ticket.requested_by) == ("https://github.com/Codertocat/Hello-World/issues/1", "Codertocat")
    assert ticket.changed_at is not None and int(ticket.changed_at.timestamp()) == OPENED_AT
    outbox = db.execute("SELECT dag_id, rev, kind FROM ticketpilot.outbox").fetchall()
    assert outbox == [{"dag_id": "ticket__acme__1", "rev": OPENED_AT, "kind": "spawn"}]
    delivery = db.execute("SELECT event_id, event_type, rev FROM ticketpilot.deliveries").fetchone()
    assert delivery == {"event_id": "delivery-1", "event_type": "github.issues.opened", "rev": OPENED_AT}


def test_a_repo_label_routes_the_work_and_labels_are_tags(client: TestClient, db: psycopg.Connection,
                                                         tenant: Tenant) -> None:
    labels = [{"name": "repo:billing-api"}, {"name": "security"}, {"name": "security"}]
    assert post(client, issue_event(labels=labels)).status_code == 202
    ticket = get_ticket(db, "acme-1")
    assert (ticket.repo, ticket.tags, ticket.risk_class) == ("billing-api", ["repo:billing-api", "security"], "R3")


def test_a_redelivery_is_200_with_the_same_answer(client: TestClient, db: psycopg.Connection,
                                                  tenant: Tenant) -> None:
    first = post(client, event("issues.opened"))
    again = post(client, event("issues.opened"))  # GitHub's "Redeliver" keeps X-GitHub-Delivery
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    assert counts(db) == {"deliveries": 1, "tickets": 1, "outbox": 1}


def test_an_older_update_after_a_newer_one_does_not_overwrite(client: TestClient, db: psycopg.Connection,
                                                              tenant: Tenant) -> None:
    assert post(client, event("issues.opened")).status_code == 202
    newer = issue_event("edited", updated_at="2019-05-15T16:00:00Z", title="Spelling errors in the README")
    older = issue_event("labeled", updated_at="2019-05-15T15:30:00Z", labels=[{"name": "docs"}])
    assert post(client, newer, delivery="delivery-3").status_code == 202
    late = post(client, older, delivery="delivery-2")
    assert late.status_code == 202 and late.json()["rev"] == epoch("2019-05-15T15:30:00Z")  # recorded, not applied
    ticket = get_ticket(db, "acme-1")
    assert (ticket.title, ticket.tags, ticket.rev) == (
        "Spelling errors in the README", ["bug"], epoch("2019-05-15T16:00:00Z"))
    kinds = [r["kind"] for r in db.execute("SELECT kind FROM ticketpilot.outbox ORDER BY id")]
    assert kinds == ["spawn", "replan"]


def test_of_two_changes_in_one_second_the_later_delivery_wins(client: TestClient, db: psycopg.Connection,
                                                              tenant: Tenant) -> None:
    assert post(client, event("issues.opened")).status_code == 202
    same_second = issue_event("labeled", labels=[{"name": "bug"}, {"name": "docs"}])
    assert post(client, same_second, delivery="delivery-2").status_code == 202
    assert get_ticket(db, "acme-1").tags == ["bug", "docs"]


@pytest.mark.parametrize(("action", "state", "source_state"), [("closed", "closed", "closed"),
                                                               ("deleted", "open", "deleted"),
                                                               ("transferred", "open", "transferred")])
def test_a_closed_issue_closes_the_ticket_and_cancels_its_run(client: TestClient, db: psycopg.Connection,
                                                              tenant: Tenant, action: str, state: str,
                                                              source_state: str) -> None:
    assert post(client, event("issues.opened")).status_code == 202
    gone = issue_event(action, updated_at="2019-05-15T17:00:00Z", state=state, closed_at="2019-05-15T17:00:00Z")
    assert post(client, gone, delivery="delivery-2").status_code == 202
    ticket = get_ticket(db, "acme-1")
    assert (ticket.state, ticket.source_state) == (TicketState.CLOSED, source_state)
    row = db.execute("SELECT state, closed_at FROM ticketpilot.tickets").fetchone()
    assert row["state"] == "closed" and row["closed_at"] is not None
    kinds = [(r["kind"], r["rev"]) for r in db.execute("SELECT kind, rev FROM ticketpilot.outbox ORDER BY id")]
    assert kinds == [("spawn", OPENED_AT), ("cancel", epoch("2019-05-15T17:00:00Z"))]


def test_reopening_spawns_again(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    closed = issue_event("closed", updated_at="2019-05-15T17:00:00Z", state="closed")
    reopened = issue_event("reopened", updated_at="2019-05-15T18:00:00Z")
    for n, payload in enumerate([event("issues.opened"), closed, reopened]):
        assert post(client, payload, delivery=f"delivery-{n}").status_code == 202
    kinds = [r["kind"] for r in db.execute("SELECT kind FROM ticketpilot.outbox ORDER BY id")]
    assert kinds == ["spawn", "cancel", "spawn"] and get_ticket(db, "acme-1").state is TicketState.OPEN


@pytest.mark.parametrize(("signed_with", "path"), [
    ("wrong-secret", HOOK), (None, HOOK), (WEBHOOK_SECRET, f"{URL_PREFIX}/hooks/github/unknown")])
def test_a_bad_signature_is_401_and_stores_nothing(client: TestClient, db: psycopg.Connection, tenant: Tenant,
                                                   signed_with: str | None, path: str) -> None:
    response = post(client, event("issues.opened"), signed_with=signed_with, path=path)
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or missing webhook credentials"}
    assert counts(db) == NOTHING


def test_a_body_changed_after_signing_is_401(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    signed = json.dumps(event("issues.opened")).encode()
    tampered = signed.replace(b"Spelling error", b"Drop the prod DB")
    response = client.post(HOOK, content=tampered, headers={
        "X-GitHub-Event": "issues", "X-GitHub-Delivery": "delivery-1", "X-Hub-Signature-256": signature(signed)})
    assert response.status_code == 401 and counts(db) == NOTHING


def test_a_tenant_without_a_github_secret_refuses_every_delivery(client: TestClient, db: psycopg.Connection,
                                                                 fernet_key: str) -> None:
    github_tenant(db, secret=None)
    assert post(client, event("issues.opened")).status_code == 401
    assert counts(db) == NOTHING


def test_a_rotated_secret_works_at_once(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    assert post(client, event("issues.opened")).status_code == 202  # the tenant row is cached now
    github_tenant(db, secret="rotated-secret")
    edited = issue_event("edited", updated_at="2019-05-15T16:00:00Z")
    assert post(client, edited, delivery="delivery-2", signed_with="rotated-secret").status_code == 202
    assert post(client, edited, delivery="delivery-3").status_code == 401


@pytest.mark.parametrize(("owner", "reason"), [
    ("octo-org", "'Codertocat/Hello-World', outside its owner 'octo-org'"),
    ("Codertocat/Other-Repo", "'Codertocat/Hello-World', outside its owner 'Codertocat/Other-Repo'"),
])
def test_an_issue_of_another_owner_or_repository_is_403_and_stores_nothing(
        client: TestClient, db: psycopg.Connection, fernet_key: str, owner: str, reason: str) -> None:
    github_tenant(db, owner=owner)
    response = post(client, event("issues.opened"))
    assert response.status_code == 403
    assert response.json() == {"detail": f"tenant acme: the delivery comes from {reason}"}
    assert counts(db) == NOTHING


def test_the_declared_repository_is_accepted_case_aside(client: TestClient, db: psycopg.Connection,
                                                        fernet_key: str) -> None:
    github_tenant(db, owner="codertocat/hello-world")
    assert post(client, event("issues.opened")).status_code == 202


def test_the_same_number_in_another_repository_is_409_and_stores_nothing(
        client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    assert post(client, event("issues.opened")).status_code == 202
    other = issue_event("opened", html_url="https://github.com/Codertocat/Other/issues/1")
    other["repository"].update(id=999, name="Other", full_name="Codertocat/Other")
    response = post(client, other, delivery="delivery-2")
    assert response.status_code == 409
    assert response.json()["detail"].startswith(
        "ticket acme-1 belongs to https://github.com/Codertocat/Hello-World/issues/1, not to "
        "https://github.com/Codertocat/Other/issues/1: issue numbers are only unique within one repository")
    assert counts(db) == {"deliveries": 1, "tickets": 1, "outbox": 1}


@pytest.mark.parametrize("raw", [b'{"action": "opened",', b"[" * 100_000 + b"]" * 100_000],
                         ids=["truncated", "nested-100k"])
def test_malformed_json_is_400(client: TestClient, db: psycopg.Connection, tenant: Tenant, raw: bytes) -> None:
    response = post(client, None, raw=raw)
    assert response.status_code == 400 and response.json()["detail"].startswith("body is not valid JSON")
    assert counts(db) == NOTHING


def test_an_oversized_body_is_refused_before_its_signature_is_checked(client: TestClient, db: psycopg.Connection,
                                                                      tenant: Tenant) -> None:
    response = post(client, None, raw=b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert response.status_code == 413 and "a delivery may have" in response.json()["detail"]
    assert counts(db) == NOTHING


def _without(path: str) -> dict[str, Any]:
    payload = event("issues.opened")
    *parents, leaf = path.split(".")
    target = payload
    for key in parents:
        target = target[key]
    del target[leaf]
    return payload


@pytest.mark.parametrize(("body", "headers", "reason"), [
    (_without("issue.updated_at"), {}, "delivery: issue.updated_at: Field required"),
    (_without("issue.number"), {}, "delivery: issue.number: Field required"),
    (_without("repository"), {}, "delivery: repository: Field required"),
    (issue_event(title="  "), {}, "issue.title is missing or empty"),
    (issue_event(updated_at="yesterday"), {}, "issue.updated_at 'yesterday' is not a timestamp"),
    (_without("action"), {}, "action is missing"),
    (event("issues.opened"), {"delivery": None}, "the X-GitHub-Delivery header (the delivery's id) is missing"),
    ([event("issues.opened")], {}, "a delivery must be a JSON object, got an array"),
])
def test_a_delivery_missing_what_a_ticket_needs_is_422_with_the_reason(
        client: TestClient, db: psycopg.Connection, tenant: Tenant, body: object, headers: dict[str, Any],
        reason: str) -> None:
    response = post(client, body, **headers)
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": reason}
    assert counts(db) == NOTHING


def test_a_ping_is_200_with_a_note_and_stores_nothing(client: TestClient, db: psycopg.Connection,
                                                      fernet_key: str) -> None:
    github_tenant(db, owner="Octocoders")  # the ping sample comes from Octocoders/Hello-World
    response = post(client, event("ping"), event_name="ping")
    assert response.status_code == 200
    assert response.json() == {"event_type": "ping", "ticket_key": None, "recorded": 0,
                               "note": "pong: hook 109948940 reached Ticketpilot; issues events become tickets"}
    assert counts(db) == NOTHING


def test_a_ping_from_another_owner_is_403(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    response = post(client, event("ping"), event_name="ping")
    assert response.status_code == 403 and "'Octocoders/Hello-World', outside its owner" in response.json()["detail"]


@pytest.mark.parametrize(("event_name", "body", "event_type", "note"), [
    ("push", event("issues.opened"), "push", "event 'push' is not used; only 'issues' events become tickets"),
    ("issues", issue_event("assigned"), "issues.assigned",
     "action 'assigned' does not change what the ticket says; used: closed, edited, labeled, opened, reopened, "
     "unlabeled"),
])
def test_events_that_make_no_ticket_are_200_and_store_nothing(
        client: TestClient, db: psycopg.Connection, tenant: Tenant, event_name: str, body: dict[str, Any],
        event_type: str, note: str) -> None:
    response = post(client, body, event_name=event_name)
    assert response.status_code == 200
    assert response.json() == {"event_type": event_type, "ticket_key": None, "recorded": 0, "note": note}
    assert counts(db) == NOTHING


def test_the_tenants_rate_limit_applies_with_503(client: TestClient, db: psycopg.Connection,
                                                 fernet_key: str) -> None:
    github_tenant(db, hook_rate_per_s=0.01, hook_burst=1)
    assert post(client, event("issues.opened")).status_code == 202
    shed = post(client, issue_event("edited", updated_at="2019-05-15T16:00:00Z"), delivery="delivery-2")
    assert shed.status_code == 503 and int(shed.headers["Retry-After"]) >= 1
    assert counts(db)["deliveries"] == 1


def test_a_saturated_ingress_sheds_with_503(db_url: str, db: psycopg.Connection, tenant: Tenant) -> None:
    for client in make_client(db_url, hook_max_in_flight=0):
        shed = post(client, event("issues.opened"))
        assert shed.status_code == 503 and shed.headers["Retry-After"] == "2"
    assert counts(db) == NOTHING
