"""The GitLab issue hook against the real embedded PostgreSQL, mounted under its prefix as Airflow mounts it,
with the payload examples of GitLab's webhook documentation (tests/fixtures/gitlab-events) and the headers
GitLab sends with them."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from include.contracts.ticket import TicketState
from include.store.tenants import Tenant, create_tenant, secret_digest
from include.store.tickets import get_ticket
from plugins.ingress.app import URL_PREFIX

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "gitlab-events"
TENANT, NAMESPACE, TOKEN = "acme", "gitlabhq", "gl-hook-token-1"
HOOK = f"{URL_PREFIX}/hooks/gitlab/{TENANT}"
OPENED_AT = "2013-12-03T17:15:43Z"  # object_attributes.updated_at of the sample
DATA_TABLES = ("deliveries", "tickets", "outbox")
NOTHING = dict.fromkeys(DATA_TABLES, 0)
DESCRIPTION = """Create new API for manipulations with repository

### Acceptance Criteria:
- [ ] `POST /files` creates a file
- [ ] `DELETE /files` removes it,
  leaving the history intact
"""


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def epoch(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp())


def issue_hook(action: str | None = "open", *, updated_at: str = OPENED_AT, **attributes: Any) -> dict[str, Any]:
    """The documented Issue Hook sample as GitLab sends it for `action`, the issue changed as given."""
    payload = copy.deepcopy(event("issue.open"))
    payload["object_attributes"].update(action=action, updated_at=updated_at, **attributes)
    if action is None:
        del payload["object_attributes"]["action"]
    return payload


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) AS n FROM ticketpilot.{t}").fetchone()["n"] for t in DATA_TABLES}


def post(client: TestClient, body: object, *, hook: str = "Issue Hook", uuid: str | None = "event-uuid-1",
         idempotency_key: str | None = None, token: str | None = TOKEN, raw: bytes | None = None,
         path: str = HOOK) -> Any:
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": hook, "User-Agent": "GitLab/17.5.0",
               "X-Gitlab-Instance": "https://gitlab.example.com", "X-Gitlab-Webhook-UUID": "hook-uuid-1"}
    for name, value in (("X-Gitlab-Token", token), ("X-Gitlab-Event-UUID", uuid),
                        ("Idempotency-Key", idempotency_key)):
        if value is not None:
            headers[name] = value
    content = raw if raw is not None else json.dumps(body).encode()
    return client.post(path, content=content, headers=headers)


def gitlab_tenant(db: psycopg.Connection, namespace: str | None = NAMESPACE, token: str | None = TOKEN,
                  **settings: Any) -> Tenant:
    return create_tenant(db, TENANT, "hooks-acme", "basic-secret", "web", ["alice"], scm_kind="gitlab",
                         gitlab_namespace=namespace, gitlab_token=token, **settings)


@pytest.fixture
def tenant(db: psycopg.Connection) -> Tenant:
    return gitlab_tenant(db)


def test_the_token_is_stored_as_its_digest(db: psycopg.Connection, tenant: Tenant) -> None:
    stored = db.execute("SELECT gitlab_token_sha256 FROM ticketpilot.tenants").fetchone()["gitlab_token_sha256"]
    assert stored == secret_digest(TOKEN) == tenant.gitlab_token_sha256 and TOKEN not in repr(tenant)
    with pytest.raises(ValueError, match="has a GitLab hook token but no gitlab_namespace"):
        gitlab_tenant(db, namespace=None)


def test_an_opened_issue_is_202_and_becomes_a_ticket_and_a_dag(client: TestClient, db: psycopg.Connection,
                                                              tenant: Tenant) -> None:
    response = post(client, issue_hook(description=DESCRIPTION))
    assert response.status_code == 202, response.text
    assert response.json() == {"ticket_key": "acme-23", "dag_id": "ticket__acme__23", "rev": epoch(OPENED_AT)}
    ticket = get_ticket(db, "acme-23")
    assert ticket is not None
    assert (ticket.title, ticket.source, ticket.workitem_id, ticket.state, ticket.source_state) == (
        "New API: create/update/delete file", "gitlab", 23, TicketState.OPEN, "opened")
    assert ticket.description == "Create new API for manipulations with repository"
    assert ticket.acceptance_criteria == ["`POST /files` creates a file",
                                          "`DELETE /files` removes it, leaving the history intact"]
    assert (ticket.tags, ticket.repo, ticket.work_item_type) == (["API"], "gitlab-test", "Issue")
    assert (ticket.url, ticket.requested_by) == ("http://example.com/diaspora/issues/23", "GitLab user 51")
    outbox = db.execute("SELECT dag_id, rev, kind FROM ticketpilot.outbox").fetchall()
    assert outbox == [{"dag_id": "ticket__acme__23", "rev": epoch(OPENED_AT), "kind": "spawn"}]
    delivery = db.execute("SELECT event_id, event_type FROM ticketpilot.deliveries").fetchone()
    assert delivery == {"event_id": "event-uuid-1", "event_type": "gitlab.issue.open"}


def test_the_author_is_named_when_they_are_the_actor(client: TestClient, db: psycopg.Connection,
                                                     tenant: Tenant) -> None:
    assert post(client, issue_hook(author_id=1)).status_code == 202
    assert get_ticket(db, "acme-23").requested_by == "Administrator (root)"


def test_a_repo_label_routes_the_work(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    payload = issue_hook()
    payload["labels"] = [{"title": "repo:files-api"}, {"title": "API"}]
    assert post(client, payload).status_code == 202
    assert (get_ticket(db, "acme-23").repo, get_ticket(db, "acme-23").tags) == ("files-api", ["repo:files-api", "API"])


def test_a_retry_is_200_with_the_same_answer(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    first = post(client, issue_hook(), idempotency_key="idem-1", uuid="event-uuid-1")
    retry = post(client, issue_hook(), idempotency_key="idem-1", uuid="event-uuid-2")  # a retry keeps the key
    assert (first.status_code, retry.status_code) == (202, 200) and retry.json() == first.json()
    assert counts(db) == {"deliveries": 1, "tickets": 1, "outbox": 1}
    assert db.execute("SELECT event_id FROM ticketpilot.deliveries").fetchone()["event_id"] == "idem-1"


def test_an_older_update_after_a_newer_one_does_not_overwrite(client: TestClient, db: psycopg.Connection,
                                                              tenant: Tenant) -> None:
    assert post(client, issue_hook()).status_code == 202
    newer = issue_hook("update", updated_at="2013-12-03 18:00:00 UTC", title="New API: files")
    older = issue_hook("update", updated_at="2013-12-03T17:30:00Z", title="New API: files (draft)")
    assert post(client, newer, uuid="event-uuid-3").status_code == 202
    assert post(client, older, uuid="event-uuid-2").status_code == 202
    ticket = get_ticket(db, "acme-23")
    assert (ticket.title, ticket.rev) == ("New API: files", epoch("2013-12-03T18:00:00+00:00"))
    assert [r["kind"] for r in db.execute("SELECT kind FROM ticketpilot.outbox ORDER BY id")] == ["spawn", "replan"]


def test_a_closed_issue_closes_the_ticket_and_cancels_its_run(client: TestClient, db: psycopg.Connection,
                                                              tenant: Tenant) -> None:
    assert post(client, issue_hook()).status_code == 202
    closed = issue_hook("close", updated_at="2013-12-04T09:00:00Z", state="closed")
    assert post(client, closed, uuid="event-uuid-2").status_code == 202
    ticket = get_ticket(db, "acme-23")
    assert (ticket.state, ticket.source_state) == (TicketState.CLOSED, "closed")
    kinds = [(r["kind"], r["rev"]) for r in db.execute("SELECT kind, rev FROM ticketpilot.outbox ORDER BY id")]
    assert kinds == [("spawn", epoch(OPENED_AT)), ("cancel", epoch("2013-12-04T09:00:00+00:00"))]
    reopened = issue_hook("reopen", updated_at="2013-12-05T09:00:00Z")
    assert post(client, reopened, uuid="event-uuid-3").status_code == 202
    assert get_ticket(db, "acme-23").state is TicketState.OPEN


def test_the_test_button_delivery_without_an_action_is_a_snapshot(client: TestClient, db: psycopg.Connection,
                                                                   tenant: Tenant) -> None:
    response = post(client, issue_hook(None))
    assert response.status_code == 202
    assert db.execute("SELECT event_type FROM ticketpilot.deliveries").fetchone()["event_type"] == \
        "gitlab.issue.snapshot"


@pytest.mark.parametrize(("token", "path"), [("wrong-token", HOOK), (None, HOOK),
                                              (TOKEN, f"{URL_PREFIX}/hooks/gitlab/unknown")])
def test_a_bad_token_is_401_and_stores_nothing(client: TestClient, db: psycopg.Connection, tenant: Tenant,
                                               token: str | None, path: str) -> None:
    response = post(client, issue_hook(), token=token, path=path)
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or missing webhook credentials"}
    assert counts(db) == NOTHING


def test_a_tenant_without_a_gitlab_token_refuses_every_delivery(client: TestClient, db: psycopg.Connection) -> None:
    gitlab_tenant(db, namespace=None, token=None)
    assert post(client, issue_hook(), token="").status_code == 401
    assert counts(db) == NOTHING


def test_a_rotated_token_works_at_once(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    assert post(client, issue_hook()).status_code == 202
    gitlab_tenant(db, token="rotated-token")
    update = issue_hook("update", updated_at="2013-12-04T09:00:00Z")
    assert post(client, update, uuid="event-uuid-2", token="rotated-token").status_code == 202
    assert post(client, update, uuid="event-uuid-3").status_code == 401


@pytest.mark.parametrize("namespace", ["gitlab-org", "gitlabhq/other-project", "gitlabhq-fork"])
def test_a_project_outside_the_namespace_is_403_and_stores_nothing(client: TestClient, db: psycopg.Connection,
                                                                   namespace: str) -> None:
    gitlab_tenant(db, namespace=namespace)
    response = post(client, issue_hook())
    assert response.status_code == 403
    assert response.json() == {"detail": f"tenant acme: the delivery comes from 'gitlabhq/gitlab-test', outside "
                                         f"its namespace {namespace!r}"}
    assert counts(db) == NOTHING


@pytest.mark.parametrize("namespace", ["GitlabHQ", "gitlabhq/gitlab-test"])
def test_the_namespace_or_the_project_itself_is_accepted(client: TestClient, db: psycopg.Connection,
                                                         namespace: str) -> None:
    gitlab_tenant(db, namespace=namespace)
    assert post(client, issue_hook()).status_code == 202


def test_a_subgroup_project_is_inside_its_group(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    payload = issue_hook()
    payload["project"].update(id=7, path_with_namespace="gitlabhq/platform/files")
    assert post(client, payload).status_code == 202
    assert get_ticket(db, "acme-23").repo == "files"


def test_the_same_iid_in_another_project_is_409(client: TestClient, db: psycopg.Connection, tenant: Tenant) -> None:
    assert post(client, issue_hook()).status_code == 202
    other = issue_hook(url="http://example.com/gitlabhq/other/-/issues/23")
    other["project"].update(id=2, path_with_namespace="gitlabhq/other")
    response = post(client, other, uuid="event-uuid-2")
    assert response.status_code == 409 and "issue numbers are only unique" in response.json()["detail"]
    assert counts(db) == {"deliveries": 1, "tickets": 1, "outbox": 1}


@pytest.mark.parametrize("raw", [b'{"object_kind": "issue",', b"[" * 100_000 + b"]" * 100_000],
                         ids=["truncated", "nested-100k"])
def test_malformed_json_is_400(client: TestClient, db: psycopg.Connection, tenant: Tenant, raw: bytes) -> None:
    response = post(client, None, raw=raw)
    assert response.status_code == 400 and response.json()["detail"].startswith("body is not valid JSON")
    assert counts(db) == NOTHING


def _without(*path: str) -> dict[str, Any]:
    payload = issue_hook()
    target = payload
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return payload


@pytest.mark.parametrize(("body", "headers", "reason"), [
    (_without("object_attributes", "iid"), {}, "delivery: object_attributes.iid: Field required"),
    (_without("object_attributes", "updated_at"), {}, "delivery: object_attributes.updated_at: Field required"),
    (_without("project"), {}, "delivery: project: Field required"),
    (_without("object_kind"), {}, "object_kind is missing"),
    (issue_hook(title=""), {}, "object_attributes.title is missing or empty"),
    (issue_hook(updated_at="soon"), {}, "object_attributes.updated_at 'soon' is not a timestamp"),
    (issue_hook(), {"uuid": None},
     "neither an Idempotency-Key nor an X-Gitlab-Event-UUID header names the delivery"),
    ("issue", {}, "a delivery must be a JSON object, got a string"),
])
def test_a_delivery_missing_what_a_ticket_needs_is_422_with_the_reason(
        client: TestClient, db: psycopg.Connection, tenant: Tenant, body: object, headers: dict[str, Any],
        reason: str) -> None:
    response = post(client, body, **headers)
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": reason}
    assert counts(db) == NOTHING


@pytest.mark.parametrize(("hook", "body", "event_type", "note"), [
    ("Push Hook", event("push"), "Push Hook", "'Push Hook' is not used; only 'Issue Hook' deliveries become tickets"),
    ("Confidential Issue Hook", event("issue.open"), "Confidential Issue Hook",
     "'Confidential Issue Hook' is not used; only 'Issue Hook' deliveries become tickets"),
    ("Issue Hook", {**event("issue.open"), "object_kind": "work_item"}, "issue_hook.work_item",
     "object_kind 'work_item' is not used; only issues become tickets"),
])
def test_hooks_that_make_no_ticket_are_200_and_store_nothing(
        client: TestClient, db: psycopg.Connection, tenant: Tenant, hook: str, body: dict[str, Any],
        event_type: str, note: str) -> None:
    response = post(client, body, hook=hook)
    assert response.status_code == 200
    assert response.json() == {"event_type": event_type, "ticket_key": None, "recorded": 0, "note": note}
    assert counts(db) == NOTHING


def test_the_tenants_rate_limit_applies_with_503(client: TestClient, db: psycopg.Connection) -> None:
    gitlab_tenant(db, hook_rate_per_s=0.01, hook_burst=1)
    assert post(client, issue_hook()).status_code == 202
    shed = post(client, issue_hook("update", updated_at="2013-12-04T09:00:00Z"), uuid="event-uuid-2")
    assert shed.status_code == 503 and int(shed.headers["Retry-After"]) >= 1
    assert counts(db)["deliveries"] == 1
