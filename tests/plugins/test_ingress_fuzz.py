"""The ingress under hostile input, property-based (hypothesis): the three hook routes (ADO, GitHub, GitLab), each
with a valid credential so the body is really parsed, and the gate routes take arbitrary bytes, arbitrary JSON
and JSON shaped like their deliveries with arbitrary values. Never a 5xx; a refused body stores nothing; the
app still answers its health check afterwards."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.contracts import RiskClass
from include.store import gates
from include.store.tenants import create_tenant
from plugins.ingress.app import URL_PREFIX
from tests.plugins.conftest import Token, bearer

DATA_TABLES = ("deliveries", "tickets", "outbox", "gate_decisions")
GH_SECRET, GL_TOKEN = "fuzz-github-secret", "fuzz-gitlab-token"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=25)
ado_shaped = st.fixed_dictionaries({
    "id": st.text(max_size=40), "eventType": st.sampled_from(["workitem.created", "workitem.updated",
                                                              "workitem.deleted", "workitem.commented",
                                                              "git.pullrequest.updated", "build.complete", "x"]),
    "resource": json_values, "resourceContainers": json_values})
github_shaped = st.fixed_dictionaries({"action": st.sampled_from(["opened", "edited", "closed", "labeled", "x"]),
                                       "issue": json_values, "repository": json_values})
gitlab_shaped = st.fixed_dictionaries({"object_kind": st.sampled_from(["issue", "note", "x"]),
                                       "object_attributes": json_values, "project": json_values})


def bodies(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return (st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode())
            | shaped.map(lambda v: json.dumps(v).encode()))


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) AS n FROM ticketpilot.{t}").fetchone()["n"] for t in DATA_TABLES}


@pytest.fixture
def tenants(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from airflow.models.crypto import get_fernet

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    get_fernet.cache_clear()
    create_tenant(db, "fz-ado", "fz-ado", "fuzz-basic-secret", "web", ["alice"])
    create_tenant(db, "fz-gh", "fz-gh", "fuzz-basic-secret", "web", ["alice"], scm_kind="github",
                  github_owner="octo", github_webhook_secret=GH_SECRET)
    create_tenant(db, "fz-gl", "fz-gl", "fuzz-basic-secret", "web", ["alice"], scm_kind="gitlab",
                  gitlab_namespace="group", gitlab_token=GL_TOKEN)
    yield
    get_fernet.cache_clear()


def refused_or_stored(client: TestClient, db: psycopg.Connection, before: dict[str, int], response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert counts(db) == before, f"{response.status_code} stored something: {response.text}"
    assert client.get(f"{URL_PREFIX}/health").status_code == 200, "the app answers after it"


@FUZZ
@given(body=bodies(ado_shaped))
def test_the_ado_hook(client: TestClient, db: psycopg.Connection, tenants: None, body: bytes) -> None:
    before = counts(db)
    response = client.post(f"{URL_PREFIX}/hooks/ado/fz-ado", content=body, auth=("fz-ado", "fuzz-basic-secret"),
                           headers={"Content-Type": "application/json"})
    refused_or_stored(client, db, before, response)


@FUZZ
@given(body=bodies(github_shaped), event=st.sampled_from(["issues", "issue_comment", "ping", "push"]))
def test_the_github_hook(client: TestClient, db: psycopg.Connection, tenants: None, body: bytes, event: str) -> None:
    before = counts(db)
    signature = "sha256=" + hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(f"{URL_PREFIX}/hooks/github/fz-gh", content=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": "fuzz-delivery",
        "X-Hub-Signature-256": signature})
    refused_or_stored(client, db, before, response)


@FUZZ
@given(body=bodies(gitlab_shaped), event=st.sampled_from(["Issue Hook", "Note Hook", "Push Hook"]))
def test_the_gitlab_hook(client: TestClient, db: psycopg.Connection, tenants: None, body: bytes, event: str) -> None:
    before = counts(db)
    response = client.post(f"{URL_PREFIX}/hooks/gitlab/fz-gl", content=body, headers={
        "Content-Type": "application/json", "X-Gitlab-Event": event, "X-Gitlab-Token": GL_TOKEN,
        "X-Gitlab-Event-UUID": "fuzz-uuid"})
    refused_or_stored(client, db, before, response)


@FUZZ
@given(body=bodies(st.fixed_dictionaries({"comment": json_values})), verb=st.sampled_from(["approve", "reject"]))
def test_the_gate_routes(client: TestClient, db: psycopg.Connection, token: Token, body: bytes, verb: str) -> None:
    db.execute("TRUNCATE ticketpilot.gate_requests, ticketpilot.gate_decisions")
    gates.request_gate(db, ticket_key="fz-ado-5", run_id="run-1", risk_class=RiskClass.R2, named_approvers=[])
    before = counts(db)
    response = client.post(f"{URL_PREFIX}/gates/fz-ado-5/{verb}", content=body,
                           headers={"Content-Type": "application/json", **bearer(token("alice", "admin"))})
    refused_or_stored(client, db, before, response)
