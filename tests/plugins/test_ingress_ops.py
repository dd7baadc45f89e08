"""Tenant operations over REST with real Airflow JWTs: only operators (Airflow's Op/Admin roles, who may edit
pools) list, show, pause and resume tenants and apply a Team Directory; the caller's own token goes on to Airflow's
API (here a stand-in of its DAG endpoints, tests/emulators/airflow_dags.py), and the audit log names the caller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient

from include.settings import get_settings
from include.store.tenants import create_tenant, get_tenant
from plugins.ingress.app import URL_PREFIX
from tests.emulators.airflow_dags import DagsApi, dags_api
from tests.plugins.conftest import Token, bearer

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "team-directory.yaml"


@pytest.fixture
def airflow_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with dags_api({"ticket__acme__1": False, "ticket__acme__2": False}) as url:
        monkeypatch.setenv("TICKETPILOT_AIRFLOW_URL", url)
        get_settings.cache_clear()
        yield url
    get_settings.cache_clear()


@pytest.fixture
def acme(db: psycopg.Connection) -> None:
    create_tenant(db, "acme", "acme-hook", "s3cret", "web", ["alice"])


@pytest.mark.parametrize(("method", "path"), [("get", "/tenants"), ("get", "/tenants/acme"),
                                              ("post", "/tenants/acme/pause"), ("post", "/tenants/acme/resume"),
                                              ("post", "/directory/apply")])
def test_only_operators_may(client: TestClient, token: Token, acme: None, method: str, path: str) -> None:
    assert client.request(method.upper(), URL_PREFIX + path, json={}).status_code == 401
    refused = client.request(method.upper(), URL_PREFIX + path, json={"reason": "x"},
                             headers=bearer(token("carol", role="user")))
    assert refused.status_code == 403 and "carol is not an operator" in refused.json()["detail"]


def test_an_operator_lists_and_shows_tenants_without_secrets(client: TestClient, token: Token, acme: None) -> None:
    ops = bearer(token("olga", role="op"))
    listed = client.get(f"{URL_PREFIX}/tenants", headers=ops)
    assert listed.status_code == 200 and [t["tenant_id"] for t in listed.json()] == ["acme"]
    shown = client.get(f"{URL_PREFIX}/tenants/acme", headers=ops).json()
    assert shown["approvers"] == ["alice"] and shown["paused_at"] is None and "s3cret" not in str(shown)
    assert "hook_secret_sha256" not in shown
    assert client.get(f"{URL_PREFIX}/tenants/nobody", headers=ops).status_code == 404


def test_pause_and_resume_act_as_the_calling_operator(client: TestClient, token: Token, acme: None,
                                                      airflow_url: str, db: psycopg.Connection) -> None:
    jwt = token("olga", role="op")
    paused = client.post(f"{URL_PREFIX}/tenants/acme/pause", json={"reason": "incident 12"}, headers=bearer(jwt))
    assert paused.status_code == 200, paused.text
    assert paused.json()["changed"] and sorted(paused.json()["dags"]) == ["ticket__acme__1", "ticket__acme__2"]
    assert paused.json()["tenant"]["paused_by"] == "olga"
    assert set(DagsApi.tokens) == {jwt}, "Airflow is called with the operator's own token"
    assert client.post(f"{URL_PREFIX}/tenants/acme/pause", json={"reason": ""}, headers=bearer(jwt)).status_code == 422

    resumed = client.post(f"{URL_PREFIX}/tenants/acme/resume", headers=bearer(jwt))
    assert resumed.status_code == 200 and resumed.json()["tenant"]["paused_at"] is None
    assert not any(DagsApi.dags.values())
    actors = db.execute("SELECT actor, action FROM ticketpilot.audit_log ORDER BY id").fetchall()
    assert [(a["actor"], a["action"]) for a in actors] == [("olga", "tenant.pause"), ("olga", "tenant.resume")]
    assert client.post(f"{URL_PREFIX}/tenants/nobody/resume", headers=bearer(jwt)).status_code == 404


def test_airflow_away_is_a_502_that_keeps_what_was_done(
        client: TestClient, token: Token, acme: None, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_AIRFLOW_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    response = client.post(f"{URL_PREFIX}/tenants/acme/pause", json={"reason": "freeze"},
                           headers=bearer(token("olga", role="op")))
    assert response.status_code == 502 and "what was done is kept: repeat the call" in response.json()["detail"]
    tenant = get_tenant(db, "acme")
    assert tenant is not None and tenant.paused_at is not None, "deliveries are held already"
    get_settings.cache_clear()


def test_an_operator_applies_a_directory(client: TestClient, token: Token, airflow_url: str, forge_dir: Path,
                                         db: psycopg.Connection, no_ledger: None) -> None:
    body = yaml.safe_load(EXAMPLE.read_text())
    ops = bearer(token("olga", role="op"))
    dry = client.post(f"{URL_PREFIX}/directory/apply", params={"dry_run": "true"}, json=body, headers=ops)
    assert dry.status_code == 200 and "team-own: created on the embedded forge" in dry.json()["changes"]
    assert get_tenant(db, "team-own") is None
    applied = client.post(f"{URL_PREFIX}/directory/apply", json=body, headers=ops).json()
    assert "team-own: grant r3_approver to alice" in applied["changes"] and set(applied["secrets"]) == {"team-own"}
    assert applied["pending"][0].startswith("team-own: pool tenant_team-own not sized"), \
        "the stand-in serves no pools: said, not hidden"
    audit = db.execute("SELECT actor FROM ticketpilot.audit_log WHERE action = 'directory.apply'").fetchall()
    assert [a["actor"] for a in audit] == ["olga"]
    bad = client.post(f"{URL_PREFIX}/directory/apply", json={**body, "teams": [{"id": "x", "members": ["ghost"]}]},
                      headers=ops)
    assert bad.status_code == 422 and "unknown people: ghost" in bad.text
