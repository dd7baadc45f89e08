"""The Project Factory against the ADO emulator (REST 7.1, held to Microsoft's specs in tests/emulators/ado/specs)
and the real platform database: the first run builds the project and says what it did, the second changes nothing,
a changed spec changes only what differs, and the service hooks it wrote deliver a new work item of the project to
our real ingress app (served over HTTP), which accepts it as the tenant's ticket."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI

from include.launcher.platform import free_port
from include.project_factory.run import run_all
from include.project_factory.spec import HOOK_EVENTS, ProjectSpec, RepositorySpec
from include.scm.base import ScmError
from include.scm.http_retry import RetryPolicy
from include.store.tenants import create_tenant, get_tenant
from plugins.ingress.app import URL_PREFIX, create_app
from tests.emulators.ado.server import EmulatorServer

TENANT, PROJECT = "contoso", "Payments"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=8)


@pytest.fixture
def ingress(db_url: str) -> Iterator[str]:
    """Our ingress app on a real port, mounted where Airflow mounts it."""
    app = create_app(db_url)
    root = FastAPI()
    root.mount(URL_PREFIX, app)
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.config.port}{URL_PREFIX}/hooks/ado/{TENANT}"
    server.should_exit = True
    thread.join(5)
    app.state.ingress.close()


@pytest.fixture
def tenant(db: psycopg.Connection, ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    create_tenant(db, TENANT, "contoso-hook", "provisioned-secret", "web", ["alice"], scm_kind="ado",
                  ado_org=ado_emulator.state.org, ado_project=PROJECT)
    monkeypatch.setenv(f"AIRFLOW_CONN_ADO_{TENANT.upper()}", json.dumps(
        {"conn_type": "azure_devops", "host": ado_emulator.org_url, "password": "s3cret-pat",
         "extra": {"project": PROJECT}}))


def spec(ingress_url: str, **changes: object) -> ProjectSpec:
    return ProjectSpec.model_validate({"tenant": TENANT, "description": "Payments team",
                                       "repositories": [{"name": "payments-api"}, {"name": "ledger"}],
                                       "ingress_url": ingress_url, "onboarding": "Ask in #payments.", **changes})


def run(s: ProjectSpec) -> list[str]:
    return run_all(s, policy=FAST, poll_s=0.01).changes


def test_first_run_builds_the_project_and_the_second_changes_nothing(
        tenant: None, ingress: str, ado_emulator: EmulatorServer, db: psycopg.Connection) -> None:
    before = get_tenant(db, TENANT)
    changes = run(spec(ingress))
    assert changes[0] == f"project {PROJECT} created"
    for line in ("repository payments-api created", "repository ledger: first commit on main",
                 "pipeline ci created on payments-api/azure-pipelines.yml",
                 "policy minimum reviewers on ledger/main created",
                 "policy build validation on payments-api/main created",
                 "service hook workitem.created created", "service hook build.complete created",
                 "project wiki created", "wiki page /Onboarding created"):
        assert line in changes, (line, changes)
    assert sum(c.startswith("service hook ") for c in changes) == len(HOOK_EVENTS) == 5
    after = get_tenant(db, TENANT)
    assert after is not None and before is not None and after.hook_secret_sha256 != before.hook_secret_sha256, \
        "the secret written into ADO is the tenant's now"

    assert run(spec(ingress)) == [], "a second run is a no-op"
    again = get_tenant(db, TENANT)
    assert again is not None and again.hook_secret_sha256 == after.hook_secret_sha256, "no rotation on a no-op"
    actions = db.execute("SELECT action FROM ticketpilot.audit_log ORDER BY id").fetchall()
    assert [a["action"] for a in actions] == ["tenant.hook_secret.set", "project_factory.apply"]


def test_the_subscriptions_deliver_a_new_work_item_to_our_ingress(
        tenant: None, ingress: str, ado_emulator: EmulatorServer, db: psycopg.Connection) -> None:
    run(spec(ingress))
    item = ado_emulator.seed_work_item({"System.WorkItemType": "Bug", "System.Title": "Refund rounding is off by one",
                                        "System.State": "New", "System.Tags": "repo:payments-api"}, project=PROJECT)
    deadline = time.monotonic() + 20
    while (row := db.execute("SELECT ticket_key, tenant_id FROM ticketpilot.tickets WHERE workitem_id = %s",
                             (item["id"],)).fetchone()) is None:
        assert time.monotonic() < deadline, ado_emulator.deliveries()
        time.sleep(0.1)
    assert row["tenant_id"] == TENANT
    statuses = [d["statuses"] for d in ado_emulator.deliveries() if d["eventType"] == "workitem.created"]
    assert statuses == [[202]], "accepted at the first attempt: the Basic credentials the factory set are valid"


def test_a_changed_spec_changes_only_what_differs(tenant: None, ingress: str) -> None:
    run(spec(ingress))
    changes = run(spec(ingress, min_reviewers=2, onboarding="Ask in #payments-help."))
    assert changes == ["policy minimum reviewers on payments-api/main updated",
                       "policy minimum reviewers on ledger/main updated", "wiki page /Onboarding updated"]
    moved = run(spec(ingress + "?moved=1", min_reviewers=2, onboarding="Ask in #payments-help."))
    assert moved[0].startswith("hook secret of tenant contoso set anew")
    assert sum(line.endswith(" updated") for line in moved) == 5, "every subscription gets the new URL and secret"


def test_a_tenant_that_is_not_on_azure_devops_is_refused(db: psycopg.Connection) -> None:
    create_tenant(db, "acme", "acme", "s", "web", [])
    with pytest.raises(ScmError, match="tenant 'acme' uses local, not ado"):
        run_all(ProjectSpec(tenant="acme", repositories=[RepositorySpec(name="web")], ingress_url="https://x.example"))
    with pytest.raises(ScmError, match="no tenant 'ghost'"):
        run_all(ProjectSpec(tenant="ghost", repositories=[RepositorySpec(name="web")], ingress_url="https://x.example"))
