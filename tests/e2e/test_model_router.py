"""End to end through the model router on real Airflow: tenant `metered` reaches its models through an Airflow
connection created over the REST API (`llm_metered`, common-ai's `pydanticai` shape) and a stored routing
policy with a fallback. Its default provider is killed mid-run and the ticket still ends merged with no step
lost; a ticket budget at 100 % refuses the next call and fails the ticket with a costed message."""

from __future__ import annotations

from decimal import Decimal

import pytest

from include.demo.repo import demo_repo_files
from include.launcher.follow import RunView, follow
from include.launcher.platform import Platform
from include.scm.local import LocalForge
from include.store.db import connect
from include.tenancy.provision import TenantSpec, provision
from model_serving.router import CallContext, ChatMessage, ChatRequest, ModelRouter, ProviderConfig
from model_serving.router.ledger import calls, set_budget, set_price
from model_serving.router.models import RoutingPolicy
from tests.e2e.helpers import delivery_like, post
from tests.emulators.llm.emulator import Emulator
from tests.emulators.llm.emulator import EmulatorServer as LlmServer

pytestmark = pytest.mark.e2e

PRIMARY, BACKUP = "vllm:primary", "openai-compatible:backup"
POLICY = RoutingPolicy(default_model=PRIMARY, large_model=PRIMARY, fallbacks=[BACKUP], cache=False)
METERED = TenantSpec(tenant_id="metered", hook_username="metered", hook_secret="metered-secret",
                     default_repo="metered-main", routing_policy=POLICY)
LINT, BUMP = 3, 1  # indexes into the demo deliveries


@pytest.fixture(scope="module")
def metered(platform: Platform) -> LocalForge:
    with platform.client() as client:
        provision(METERED, client)
    with connect(autocommit=True) as conn:  # list prices of the emulated models: every call costs something
        for model in (PRIMARY, BACKUP):
            set_price(conn, model, input_usd_per_mtok=100, output_usd_per_mtok=400)
    return LocalForge.from_settings(METERED.tenant_id)


@pytest.fixture
def primary(platform: Platform) -> Emulator:
    """The tenant's default model server, named by its model connection, which is (re)created over REST."""
    server = LlmServer("openai")
    emulator = server.__enter__()
    emulator.stop = lambda: server.__exit__(None, None, None)  # type: ignore[attr-defined]
    with platform.client() as client:
        client.request("DELETE", "/api/v2/connections/llm_metered", ok=(204, 404))
        client.request("POST", "/api/v2/connections", ok=(201,), json={
            "connection_id": "llm_metered", "conn_type": "pydanticai", "host": f"{emulator.url}/v1",
            "extra": '{"model": "vllm:primary"}'})
    yield emulator
    emulator.stop()  # type: ignore[attr-defined]


def file_ticket(platform: Platform, forge: LocalForge, index: int, workitem: int, repo: str, tags: str) -> RunView:
    forge.create_repo(repo, demo_repo_files())
    payload = delivery_like(index, workitem_id=workitem, tags=f"{tags}; repo:{repo}")
    response = post(platform, METERED.tenant_id, payload, (METERED.hook_username, METERED.hook_secret))
    assert response.status_code == 202, response.text
    return RunView(ticket_key=response.json()["ticket_key"], dag_id=response.json()["dag_id"])


def test_killing_the_default_provider_mid_run_falls_back_with_no_lost_step(
        platform: Platform, metered: LocalForge, primary: Emulator, llm_backup: Emulator) -> None:
    view = file_ticket(platform, metered, LINT, 501, "metered-fallback", "lint")
    killed = False

    def kill_after_po(v: RunView) -> None:
        nonlocal killed
        po = v.task("po_refine")
        if not killed and po and po["state"] == "success":
            primary.stop()  # type: ignore[attr-defined]
            killed = True

    with platform.client() as client:
        follow(client, {view.ticket_key: view}, on_gate=lambda v: [], timeout=600, on_poll=kill_after_po)
        failed = {t["task_id"]: client.task_log(view.dag_id, view.run_id, t["task_id"], t["try_number"])[-2000:]
                  for t in view.tasks if t["state"] != "success"}
    assert killed, "the primary was killed once the PO step had used it"
    assert view.state == "success", failed
    assert {t["task_id"]: (t["state"], t["try_number"]) for t in view.tasks} == {
        t["task_id"]: ("success", 1) for t in view.tasks}, "no step failed, none needed a retry"
    with connect(autocommit=True) as conn:
        rows = [r for r in calls(conn, METERED.tenant_id) if r["ticket_key"] == view.ticket_key]
    po_rows = [(r["provider"], r["status"]) for r in rows if r["step"].startswith("po")]
    later = [(r["step"].split(".")[0], r["provider"], r["status"]) for r in rows if not r["step"].startswith("po")]
    assert po_rows and set(po_rows) == {("vllm", "ok")}, "before the kill the default model answered"
    assert {(p, s) for _, p, s in later} == {("vllm", "error"), ("openai-compatible", "ok")}, later
    assert {step for step, p, s in later if p == "openai-compatible"} >= {"review", "docs"}
    assert len(llm_backup.requests) >= 2
    assert sum(r["cost_usd"] for r in rows if r["status"] == "ok") > 0


def test_a_ticket_budget_at_100_percent_fails_the_ticket_with_a_costed_message(
        platform: Platform, metered: LocalForge, primary: Emulator, llm_backup: Emulator) -> None:
    workitem = 502
    key = f"{METERED.tenant_id}-{workitem}"
    spent = spend_on(key, primary, llm_backup)  # the ticket's first call, before its run: the budget is used up
    with connect(autocommit=True) as conn:
        set_budget(conn, METERED.tenant_id, "ticket", key, limit_usd=spent)
    view = file_ticket(platform, metered, BUMP, workitem, "metered-budget", "dependencies")
    with platform.client() as client:
        follow(client, {view.ticket_key: view}, on_gate=lambda v: [], timeout=600)
        po = view.task("po_refine")
        log = client.task_log(view.dag_id, view.run_id, "po_refine", po["try_number"])
    assert view.state == "failed"
    assert (po["state"], po["try_number"]) == ("failed", 1), "a refusal is not retried: it would be refused again"
    assert f"the model budget refused the po.refine call. The ticket budget '{key}' of tenant 'metered' has " \
           f"spent {spent:.4f} USD of its {spent:.4f} USD limit (100.0%), and this call may cost up to" in log, \
           log[-3000:]
    with connect(autocommit=True) as conn:
        rows = [r for r in calls(conn, METERED.tenant_id) if r["ticket_key"] == key]
    assert len(rows) == 1, "the refused call was never sent, so it has no ledger row"


def spend_on(ticket_key: str, primary: Emulator, backup: Emulator) -> Decimal:
    """One real call charged to the ticket, through the router as an agent would make it; returns its cost."""
    router = ModelRouter({}, default_policy=POLICY, provider_configs={
        "vllm": ProviderConfig(base_url=primary.url), "openai-compatible": ProviderConfig(base_url=backup.url)})
    context = CallContext(tenant=METERED.tenant_id, repo="metered-budget", ticket_key=ticket_key, step="warm-up")
    with router:
        router.chat(ChatRequest(messages=[ChatMessage(role="user", content="hello")], max_tokens=16), context)
    with connect(autocommit=True) as conn:
        (row,) = [r for r in calls(conn, METERED.tenant_id) if r["ticket_key"] == ticket_key]
    return Decimal(row["cost_usd"])
