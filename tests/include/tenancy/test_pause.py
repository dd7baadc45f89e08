"""Pausing a tenant against the real platform database and a stand-in of Airflow's DAG API
(tests/emulators/airflow_dags.py, `dag_id_pattern` as a LIKE pattern where `_` matches any character): the
spawner holds the tenant's rows and only its rows, only the tenant's own DAGs are paused, a DAG a person had
paused stays paused after the resume, and both verbs are safe to repeat. The real Airflow is exercised in
tests/e2e/test_own_repository.py."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from include.airflow_client import AirflowClient
from include.spawner.service import Spawner
from include.store.tenants import create_tenant, get_tenant
from include.tenancy.pause import pause, resume, tenant_dags
from tests.emulators.airflow_dags import DagsApi, dags_api


@pytest.fixture
def airflow() -> Iterator[AirflowClient]:
    dags = {"ticket__acme__1": False, "ticket__acme__2": True, "ticket__acme-b__7": False, "ticket__acmex_9": False,
            "ticketpilot__evals": False} | {f"ticket__acme__{n}": False for n in range(100, 230)}  # > one page
    with dags_api(dags) as url, AirflowClient(url, "ops", "pw") as client:
        yield client


def outbox(db: psycopg.Connection, *dag_ids: str) -> None:
    for n, dag_id in enumerate(dag_ids, start=1):
        db.execute("INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, kind, attempts) "
                   "VALUES (%s, %s, 1, 'spawn', 0)", (f"k-{n}", dag_id))


def pending(db: psycopg.Connection, airflow: AirflowClient) -> list[str]:
    with db.transaction():
        return [row["dag_id"] for row in Spawner(airflow=airflow).pending(db)]


def test_the_tenant_prefix_is_exact_although_airflow_matches_underscores_as_any_character(
        airflow: AirflowClient) -> None:
    mine = tenant_dags(airflow, "acme")
    assert len(mine) == 132 and "ticket__acme-b__7" not in mine and "ticket__acmex_9" not in mine
    assert tenant_dags(airflow, "acme-b") == ["ticket__acme-b__7"]


def test_pause_holds_the_tenants_deliveries_and_dags_and_resume_restores_exactly_what_it_changed(
        db: psycopg.Connection, airflow: AirflowClient) -> None:
    create_tenant(db, "acme", "acme", "s", "web", [])
    create_tenant(db, "acme-b", "acme-b", "s", "web", [])
    outbox(db, "ticket__acme__1", "ticket__acme-b__7")

    held = pause(airflow, "acme", by="ops-ann", reason="code freeze for the audit")
    assert held.changed and held.held == 1
    assert len(held.dags) == 131 and "ticket__acme__2" not in held.dags, "already paused by someone: not ours"
    assert not DagsApi.dags["ticket__acme-b__7"], "another tenant's DAG is left alone"
    assert pending(db, airflow) == ["ticket__acme-b__7"], "the spawner takes only the other tenant's row"
    tenant = get_tenant(db, "acme")
    assert tenant is not None and (tenant.paused_by, tenant.paused_reason) == ("ops-ann", "code freeze for the audit")

    DagsApi.patches = []
    again = pause(airflow, "acme", by="ops-bob", reason="another reason")
    assert not again.changed and again.dags == [] and DagsApi.patches == []
    assert again.tenant.paused_by == "ops-ann" and again.tenant.paused_at == tenant.paused_at, "the first pause stays"

    resumed = resume(airflow, "acme", by="ops-ann")
    assert resumed.changed and sorted(resumed.dags) == sorted(held.dags) and resumed.held == 1
    assert DagsApi.dags["ticket__acme__2"], "a DAG paused on purpose before the tenant's pause stays paused"
    assert not any(paused for dag, paused in DagsApi.dags.items() if dag != "ticket__acme__2")
    assert pending(db, airflow) == ["ticket__acme__1", "ticket__acme-b__7"]
    assert resumed.tenant.paused_at is None and resumed.tenant.paused_dags == []
    assert not resume(airflow, "acme", by="ops-ann").changed

    actions = db.execute("SELECT actor, action, details FROM ticketpilot.audit_log ORDER BY id").fetchall()
    assert [(a["actor"], a["action"]) for a in actions] == [("ops-ann", "tenant.pause"), ("ops-ann", "tenant.resume")]
    assert actions[1]["details"]["reason"] == "code freeze for the audit"
    assert len(actions[1]["details"]["dags_unpaused"]) == 131


def test_a_tenant_created_again_by_provisioning_stays_paused(db: psycopg.Connection,
                                                             airflow: AirflowClient) -> None:
    create_tenant(db, "acme", "acme", "s", "web", [])
    pause(airflow, "acme", by="ops", reason="incident 42")
    create_tenant(db, "acme", "acme", "s", "web", ["alice"])  # `make up` re-provisions on every start
    tenant = get_tenant(db, "acme")
    assert tenant is not None and tenant.paused_at is not None and tenant.approvers == ["alice"]


def test_an_unknown_tenant_is_refused(db: psycopg.Connection, airflow: AirflowClient) -> None:
    with pytest.raises(LookupError, match="no tenant 'nobody'"):
        pause(airflow, "nobody", by="ops", reason="x")
    with pytest.raises(LookupError, match="no tenant 'nobody'"):
        resume(airflow, "nobody", by="ops")
