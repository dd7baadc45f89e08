"""Model credentials from Airflow connections of the common-ai provider's shape, read through Airflow's own
connection lookup (here: the environment-variable secrets backend, as a deployment's secrets would be)."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from model_serving.router.connections import API_KEY_ENV, BASE_URL_ENV, MODEL_ENV, LlmConnection, lookup
from model_serving.router.errors import ConfigurationError
from model_serving.router.providers import resolve_provider
from operators.agent_pod import AgentPodOperator

TICKET = {"tenant": "acme", "workitem_id": 7, "rev": 1, "title": "t", "repo": "web"}


def define(monkeypatch: pytest.MonkeyPatch, conn_id: str, **conn: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_the_tenant_connection_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    define(monkeypatch, "llm_default", conn_type="pydanticai", password="sk-default",
           extra={"model": "openai:gpt-4o-mini"})
    assert lookup("acme") == LlmConnection(conn_id="llm_default", model="openai:gpt-4o-mini", api_key="sk-default")
    define(monkeypatch, "llm_acme", conn_type="pydanticai", host="http://10.0.0.5:8000/v1",
           extra={"model": "vllm:Qwen/Qwen2.5-7B-Instruct"})
    found = lookup("acme")
    assert (found.conn_id, found.model, found.base_url, found.api_key) == (
        "llm_acme", "vllm:Qwen/Qwen2.5-7B-Instruct", "http://10.0.0.5:8000/v1", None)
    assert lookup("globex").conn_id == "llm_default", "other tenants keep the default"


def test_no_connection_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_LLM_DEFAULT", raising=False)
    assert lookup("nobody-has-this") is None


def test_azure_connection_in_common_ai_host_form(monkeypatch: pytest.MonkeyPatch) -> None:
    define(monkeypatch, "llm_acme", conn_type="pydanticai_azure", password="az-key",
           host="https://res.openai.azure.com/openai/deployments/gpt4o-prod", extra={"api_version": "2024-10-21",
                                                                                 "model": "gpt-4o"})
    found = lookup("acme")
    assert (found.model, found.base_url, found.api_version) == ("azure:gpt4o-prod", "https://res.openai.azure.com",
                                                                "2024-10-21")
    provider = resolve_provider(found.model, {"azure": found.provider_config}, env={})
    assert provider.is_cloud and provider.name == "azure"


@pytest.mark.parametrize(("conn", "message"), [
    ({"conn_type": "http", "extra": {"model": "openai:gpt-4o"}}, "model connections use pydanticai"),
    ({"conn_type": "pydanticai", "extra": {}}, "names no model"),
    ({"conn_type": "pydanticai", "extra": {"model": "gemini:pro"}}, "must be 'provider:model'"),
    ({"conn_type": "pydanticai_azure", "extra": {"model": "gpt-4o"}}, "needs the resource endpoint"),
])
def test_a_misconfigured_connection_says_what_to_fix(monkeypatch: pytest.MonkeyPatch, conn: dict,
                                                      message: str) -> None:
    define(monkeypatch, "llm_acme", **conn)
    with pytest.raises(ConfigurationError, match=message):
        lookup("acme")


def test_the_key_reaches_a_local_agent_but_never_a_pod_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    define(monkeypatch, "llm_acme", conn_type="pydanticai", password="sk-acme", extra={"model": "openai:gpt-4o"})
    operator = AgentPodOperator(task_id="dev_change", role="dev", ticket=TICKET)
    model = operator.model_connection()
    assert model.env(with_key=True) == {MODEL_ENV: "openai:gpt-4o", API_KEY_ENV: "sk-acme"}
    assert model.env(with_key=False) == {MODEL_ENV: "openai:gpt-4o"}
    assert "sk-acme" not in repr(model)
    define(monkeypatch, "llm_acme", conn_type="pydanticai", host="http://gpu:8000", extra={"model": "vllm:m"})
    assert operator.model_connection().env(with_key=True) == {MODEL_ENV: "vllm:m", BASE_URL_ENV: "http://gpu:8000"}


def test_a_broken_connection_fails_the_step_without_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    define(monkeypatch, "llm_acme", conn_type="pydanticai", extra={})
    with pytest.raises(AirflowFailException, match="model connection: connection 'llm_acme' names no model"):
        AgentPodOperator(task_id="po_refine", role="po", ticket=TICKET).model_connection()
