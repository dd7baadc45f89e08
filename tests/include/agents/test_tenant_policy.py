"""A tenant's stored routing policy reaches the agents: its default model first, its fallback chain when that
provider is down, every attempt in the tenant's ledger; the configured model alone when it has no policy."""

from __future__ import annotations

import socket
from collections.abc import Callable

import psycopg
import pytest

from include.agents import dev, llm, review
from include.contracts import AgentRole, AgentTask, DevResult, Ticket
from include.demo.repo import DEMO_REPO
from include.scm.local import LocalForge
from include.store.routing import set_policy
from include.store.tenants import create_tenant
from model_serving.router.connections import BASE_URL_ENV, MODEL_ENV
from model_serving.router.ledger import calls
from model_serving.router.models import RoutingPolicy
from tests.include.agents.conftest import MODEL, ScriptedLlm

SUMMARY = "Pins requests to 2.32.3; nothing else changes."
POLICY = RoutingPolicy(default_model="vllm:primary", large_model="vllm:primary",
                       fallbacks=["openai-compatible:backup"])


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def bumped(tenant_forge: LocalForge, demo_ticket: Callable[..., Ticket], db: psycopg.Connection
           ) -> tuple[Ticket, DevResult]:
    ticket = demo_ticket(102, tenant=tenant_forge.tenant)
    create_tenant(db, ticket.tenant, f"{ticket.tenant}-hooks", "s", DEMO_REPO, [])
    return ticket, dev.run(AgentTask(role=AgentRole.DEV, ticket=ticket, run_id="manual__policy"))


def review_task(ticket: Ticket, result: DevResult) -> AgentTask:
    return AgentTask(role=AgentRole.REVIEW, ticket=ticket, run_id="manual__policy",
                     upstream={"dev": result.model_dump(mode="json")})


def test_a_dead_default_provider_falls_back_along_the_tenants_chain(
    scripted_llm: ScriptedLlm, bumped: tuple[Ticket, DevResult], db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticket, made = bumped
    monkeypatch.delenv(MODEL_ENV)
    monkeypatch.delenv(BASE_URL_ENV)
    monkeypatch.setenv("VLLM_BASE_URL", closed_port_url())  # the default model's server is gone
    monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", f"{scripted_llm.emulator.url}/v1")
    set_policy(db, ticket.tenant, POLICY, actor="platform-team")
    assert llm.LlmConfig.for_tenant(ticket.tenant) == llm.LlmConfig(policy=POLICY)

    scripted_llm.say({"summary": SUMMARY, "risks": []})
    result = review.run(review_task(ticket, made))

    assert (result.ok, result.model_summary, result.summarised_by) == (True, SUMMARY, "openai-compatible:backup")
    rows = [(r["provider"], r["model"], r["status"]) for r in calls(db, ticket.tenant)]
    assert rows == [("vllm", "primary", "error"), ("openai-compatible", "backup", "ok")], \
        "the failed attempt is in the ledger too (it feeds error rates), then the fallback's answer"


def test_without_a_policy_the_configured_model_serves_alone(scripted_llm: ScriptedLlm,
                                                            bumped: tuple[Ticket, DevResult]) -> None:
    ticket, _ = bumped
    config = llm.LlmConfig.for_tenant(ticket.tenant)
    assert (config.spec, config.policy) == (MODEL, None)
    with config.router() as router:
        assert router.policy_for(ticket.tenant) == RoutingPolicy(default_model=MODEL, large_model=MODEL)


def test_no_model_and_no_policy_means_no_config(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    assert llm.LlmConfig.for_tenant("nobody") is None


def test_two_invalid_answers_escalate_once_to_the_policys_large_model(
    scripted_llm: ScriptedLlm, bumped: tuple[Ticket, DevResult], db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticket, made = bumped
    monkeypatch.delenv(MODEL_ENV)
    monkeypatch.delenv(BASE_URL_ENV)
    for provider in ("VLLM", "OPENAI_COMPATIBLE"):  # both served by the scripted emulator, told apart by model
        monkeypatch.setenv(f"{provider}_BASE_URL", f"{scripted_llm.emulator.url}/v1")
    set_policy(db, ticket.tenant, RoutingPolicy(default_model="vllm:small", large_model="openai-compatible:large"),
               actor="platform-team")
    scripted_llm.say("not json", {"summary": 3}, {"summary": SUMMARY, "risks": []})
    result = review.run(review_task(ticket, made))
    assert (result.model_summary, result.summarised_by) == (SUMMARY, "openai-compatible:large")
    assert [body["model"] for body in scripted_llm.bodies] == ["small", "small", "large"]
    assert len(scripted_llm.bodies[2]["messages"]) == 2, "the escalated call starts afresh, without the bad answers"
