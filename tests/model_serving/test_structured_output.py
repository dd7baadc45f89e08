"""Answers constrained to a JSON Schema: each server gets the schema in its own spelling (on the wire, through
pydantic-ai's OpenAI model and the official SDK), the cache tells
schemas apart, the HTTP service accepts OpenAI's structured-output request, and the schema agents send is one
a grammar can hold."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from include.agents.docs import DocsWriteup
from include.agents.llm import GRAMMAR_MAX_LENGTH, answer_schema
from include.agents.po import TicketReading
from model_serving.router.cache import cache_key
from model_serving.router.models import ChatMessage, ChatRequest
from model_serving.router.providers import ProviderConfig, resolve_provider
from model_serving.router.server import CompletionBody
from tests.emulators.llm.emulator import API_KEY, Emulator

SCHEMA = {"type": "object", "properties": {"criteria": {"type": "array", "items": {"type": "string"}}},
          "required": ["criteria"]}
MESSAGES = [ChatMessage(role="user", content="criteria please")]


@pytest.mark.parametrize(("dialect", "expected"), [
    ("llamacpp", {"type": "json_object", "schema": SCHEMA}),
    ("tgi", {"type": "json", "value": SCHEMA}),
    ("vllm", {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}),
    ("openai", {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}),
])
def test_each_server_gets_the_schema_in_its_spelling(dialect: str, expected: dict,
                                                     emulators: dict[str, Emulator]) -> None:
    server = emulators["openai"]
    provider = resolve_provider(f"{dialect}:m", {dialect: ProviderConfig(base_url=server.url, api_key=API_KEY)})
    try:
        provider.complete(ChatRequest(messages=MESSAGES, response_format="json", json_schema=SCHEMA))
        provider.complete(ChatRequest(messages=MESSAGES, response_format="json"))
    finally:
        provider.close()
    with_schema, plain = (r["body"] for r in server.requests)
    assert with_schema["response_format"] == expected
    assert plain["response_format"] == {"type": "json_object"}
    assert with_schema["model"] == "m" and with_schema["messages"] == [{"role": "user", "content": "criteria please"}]
    bound = "max_completion_tokens" if dialect == "openai" else "max_tokens"
    assert with_schema[bound] == 1024, "self-hosted servers read max_tokens, OpenAI max_completion_tokens"


def test_a_schema_needs_json_mode() -> None:
    with pytest.raises(ValidationError, match="json_schema needs response_format='json'"):
        ChatRequest(messages=MESSAGES, json_schema=SCHEMA)


def test_the_cache_tells_schemas_apart() -> None:
    with_schema = ChatRequest(messages=MESSAGES, response_format="json", json_schema=SCHEMA)
    without = ChatRequest(messages=MESSAGES, response_format="json")
    assert cache_key("vllm:m", with_schema) != cache_key("vllm:m", without)
    assert cache_key("vllm:m", with_schema) == cache_key("vllm:m", with_schema.model_copy())


def test_the_http_service_takes_openai_structured_outputs() -> None:
    body = CompletionBody.model_validate({"messages": [{"role": "user", "content": "hi"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "criteria", "schema": SCHEMA, "strict": True}}})
    request = body.to_request()
    assert (request.response_format, request.json_schema) == ("json", SCHEMA)


def test_the_schema_agents_send_has_no_patterns_and_no_huge_bounds() -> None:
    criteria = answer_schema(TicketReading)["properties"]["criteria"]["items"]
    assert criteria == {"type": "string", "minLength": 8, "maxLength": 240}
    writeup = answer_schema(DocsWriteup)
    assert "maxLength" not in writeup["properties"]["description"], f"1200 > {GRAMMAR_MAX_LENGTH}: left out"
    assert writeup["properties"]["description"]["minLength"] == 40
    assert writeup["properties"]["changelog"]["maxLength"] == 120
