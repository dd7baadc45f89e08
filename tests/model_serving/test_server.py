from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from model_serving.router import ModelRouter, ledger
from model_serving.router.server import build_app
from tests.emulators.llm.emulator import Emulator
from tests.model_serving.conftest import CLAUDE, LARGE, SMALL

BODY = {"model": "auto", "messages": [{"role": "user", "content": "write the fix"}], "max_tokens": 50}


@pytest.fixture
def client(make_router: Callable[..., ModelRouter]) -> TestClient:
    return TestClient(build_app(make_router(fallbacks=[CLAUDE])))


@pytest.fixture
def headers(tenant: str) -> dict[str, str]:
    return {"X-Ticketpilot-Tenant": tenant, "X-Ticketpilot-Repo": "shop", "X-Ticketpilot-Ticket": "acme-3",
            "X-Ticketpilot-Step": "dev"}


def test_chat_completion_goes_through_the_router(
        client: TestClient, headers: dict[str, str], emulators: dict[str, Emulator], tenant: str,
        db: psycopg.Connection) -> None:
    response = client.post("/v1/chat/completions", json=BODY, headers=headers)

    assert response.status_code == 200, response.text
    data = response.json()
    assert data["model"] == SMALL and data["choices"][0]["message"]["content"].endswith("echo: write the fix")
    reported = emulators["openai"].reported
    assert data["usage"]["prompt_tokens"] == reported["tokens_in"]
    assert data["usage"]["completion_tokens"] == reported["tokens_out"]
    [row] = ledger.calls(db, tenant)
    assert (row["ticket_key"], row["step"], row["repo"]) == ("acme-3", "dev", "shop")


def test_streaming_sends_the_answer_as_sse_chunks(
        client: TestClient, headers: dict[str, str], emulators: dict[str, Emulator]) -> None:
    with client.stream("POST", "/v1/chat/completions", json={**BODY, "stream": True}, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]

    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks) and len(chunks) > 3
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.endswith("echo: write the fix") and text.startswith("[emulator gpt-small]")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["prompt_tokens"] == emulators["openai"].reported["tokens_in"]


def test_pinned_model_and_fallback_over_http(
        client: TestClient, headers: dict[str, str], emulators: dict[str, Emulator]) -> None:
    emulators["openai"].fail_next("429")
    response = client.post("/v1/chat/completions", json={**BODY, "model": LARGE}, headers=headers)
    assert response.json()["model"] == CLAUDE


def test_budget_refusal_is_402_with_the_fix(
        client: TestClient, headers: dict[str, str], tenant: str, db: psycopg.Connection,
        emulators: dict[str, Emulator]) -> None:
    ledger.set_budget(db, tenant, "tenant", tenant, Decimal("0.000001"))
    response = client.post("/v1/chat/completions", json=BODY, headers=headers)
    assert response.status_code == 402
    assert response.json()["error"]["type"] == "budget_exceeded"
    assert "set_budget(" in response.json()["error"]["message"]
    assert emulators["openai"].requests == []


def test_providers_down_is_503_with_retry_after(
        client: TestClient, headers: dict[str, str], emulators: dict[str, Emulator]) -> None:
    emulators["openai"].fail_next("429")
    emulators["anthropic"].fail_next("429")
    response = client.post("/v1/chat/completions", json=BODY, headers=headers)
    assert response.status_code == 503 and response.headers["retry-after"] == "7"


def test_unknown_tenant_and_missing_header_are_refused(client: TestClient) -> None:
    assert client.post("/v1/chat/completions", json=BODY, headers={"X-Ticketpilot-Tenant": "nobody"}).status_code \
        == 403
    assert client.post("/v1/chat/completions", json=BODY).status_code == 422


def test_models_lists_auto_and_the_policy_models(client: TestClient, headers: dict[str, str]) -> None:
    ids = [m["id"] for m in client.get("/v1/models", headers=headers).json()["data"]]
    assert ids == ["auto", SMALL, LARGE, CLAUDE]
