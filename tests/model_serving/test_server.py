from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient

from model_serving.router import ModelRouter, ledger
from model_serving.router.auth import authenticator, issue_token, mint_jwt, revoke_token
from model_serving.router.server import build_app
from tests.emulators.llm.emulator import Emulator
from tests.model_serving.conftest import CLAUDE, LARGE, SMALL

BODY = {"model": "auto", "messages": [{"role": "user", "content": "write the fix"}], "max_tokens": 50}


@pytest.fixture
def client(make_router: Callable[..., ModelRouter]) -> TestClient:
    return TestClient(build_app(make_router(fallbacks=[CLAUDE])))


@pytest.fixture
def token(tenant: str, db: psycopg.Connection) -> str:
    return issue_token(db, tenant, label="tests", actor="ops").token


@pytest.fixture
def headers(token: str) -> dict[str, str]:
    """The OpenAI client's API key is the router token; the tenant comes from it."""
    return {"Authorization": f"Bearer {token}", "X-Ticketpilot-Repo": "shop", "X-Ticketpilot-Ticket": "acme-3",
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


def test_no_or_a_bad_credential_is_401(client: TestClient, headers: dict[str, str]) -> None:
    for authorization in (None, "Basic dXNlcjpwdw==", "Bearer ", "Bearer tpr_nope_nope", "Bearer not-a-jwt"):
        sent = {k: v for k, v in headers.items() if k != "Authorization"}
        if authorization is not None:
            sent["Authorization"] = authorization
        response = client.post("/v1/chat/completions", json=BODY, headers=sent)
        assert response.status_code == 401, (authorization, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_tenant_is_the_credentials_and_a_header_cannot_change_it(
        client: TestClient, headers: dict[str, str], tenant: str, db: psycopg.Connection) -> None:
    assert client.post("/v1/chat/completions", json=BODY,
                       headers={**headers, "X-Ticketpilot-Tenant": tenant}).status_code == 200, "repeating it is fine"
    other = f"{tenant}-b"
    response = client.post("/v1/chat/completions", json=BODY, headers={**headers, "X-Ticketpilot-Tenant": other})
    assert response.status_code == 403 and f"belongs to tenant '{tenant}'" in response.json()["detail"]
    assert ledger.ensure_tenant_schema(db, other) and ledger.calls(db, other) == [], "nothing spent on the other"


def test_a_revoked_token_fails_at_once(client: TestClient, headers: dict[str, str], db: psycopg.Connection) -> None:
    assert client.post("/v1/chat/completions", json=BODY, headers=headers).status_code == 200
    token_id = headers["Authorization"].split("_")[1]
    assert revoke_token(db, token_id, actor="ops") is True
    response = client.post("/v1/chat/completions", json=BODY, headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_a_tenant_without_a_routing_policy_is_403(client: TestClient, db: psycopg.Connection) -> None:
    stranger = issue_token(db, "nobody", actor="ops").token
    response = client.post("/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {stranger}"})
    assert response.status_code == 403


def test_the_platforms_jwt_names_its_tenant(make_router: Callable[..., ModelRouter], tenant: str) -> None:
    secret = "s" * 64
    client = TestClient(build_app(make_router(fallbacks=[CLAUDE]), authenticator(lambda: None, jwt_secret=secret)))

    def post(credential: str) -> int:
        return client.post("/v1/chat/completions", json=BODY,
                           headers={"Authorization": f"Bearer {credential}"}).status_code

    assert post(mint_jwt(secret, tenant)) == 200
    assert post(mint_jwt(secret, tenant, ttl_s=-10)) == 401, "expired"
    assert post(mint_jwt("x" * 64, tenant)) == 401, "signed with another secret"
    assert post(jwt.encode({"tenant": tenant, "exp": 2**40}, secret, algorithm="HS256")) == 401, "no audience"


def test_models_lists_auto_and_the_policy_models(client: TestClient, headers: dict[str, str]) -> None:
    ids = [m["id"] for m in client.get("/v1/models", headers=headers).json()["data"]]
    assert ids == ["auto", SMALL, LARGE, CLAUDE]
