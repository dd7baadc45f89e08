"""Pausing a tenant against the real platform database and an Airflow API stand-in that answers the DAG list
the way Airflow 3 does (`dag_id_pattern` as a LIKE pattern, `_` matching any character): the spawner holds the
tenant's rows and only its rows, only the tenant's own DAGs are paused, a DAG a person had paused stays paused
after the resume, and both verbs are safe to repeat. The real Airflow is exercised in
tests/e2e/test_own_repository.py."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

from include.airflow_client import AirflowClient
from include.spawner.service import Spawner
from include.store.tenants import create_tenant, get_tenant
from include.tenancy.pause import pause, resume, tenant_dags


class DagsApi(BaseHTTPRequestHandler):
    dags: dict[str, bool] = {}  # dag_id -> is_paused
    patches: list[tuple[str, bool]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(201, {"access_token": "t"})

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/v2/dags":
            like = re.compile("^" + re.escape(query["dag_id_pattern"]).replace("_", ".").replace("%", ".*"),
                              re.IGNORECASE)
            names = sorted(d for d, p in self.dags.items() if like.search(d)
                           and ("paused" not in query or str(p).lower() == query["paused"]))
            offset, limit = int(query["offset"]), int(query["limit"])
            return self._answer(200, {"dags": [{"dag_id": d, "is_paused": self.dags[d]}
                                               for d in names[offset:offset + limit]]})
        dag_id = url.path.removeprefix("/api/v2/dags/")
        if dag_id not in self.dags:
            return self._answer(404, {"detail": "not found"})
        return self._answer(200, {"dag_id": dag_id, "is_paused": self.dags[dag_id]})

    def do_PATCH(self) -> None:  # noqa: N802
        dag_id = self.path.removeprefix("/api/v2/dags/")
        paused = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["is_paused"]
        type(self).dags[dag_id] = paused
        type(self).patches.append((dag_id, paused))
        self._answer(200, {"dag_id": dag_id, "is_paused": paused})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def airflow() -> Iterator[AirflowClient]:
    DagsApi.dags = {"ticket__acme__1": False, "ticket__acme__2": True, "ticket__acme-b__7": False,
                    "ticket__acmex_9": False, "ticketpilot__evals": False}
    DagsApi.dags |= {f"ticket__acme__{n}": False for n in range(100, 230)}  # more than one page
    DagsApi.patches = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), DagsApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with AirflowClient(f"http://127.0.0.1:{server.server_port}", "ops", "pw") as client:
        yield client
    server.shutdown()


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
