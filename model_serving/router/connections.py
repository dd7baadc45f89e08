"""Model credentials from Airflow connections, in the shape of the common-ai provider's connection types.

A deployment keeps one connection per tenant (`llm_<tenant>`) or one for all (`llm_default`), of type
`pydanticai` (extra `model` = "provider:model", password = API key, host = base URL for self-hosted or
compatible servers) or `pydanticai_azure` (host = the Azure OpenAI endpoint, password = key, extra `model` =
the deployment, extra `api_version`). Those are the fields common-ai's `PydanticAIHook` reads, so the same
connection serves our router and any common-ai operator a team adds; we read them with Airflow's plain
connection lookup and need no provider package (ADR 7).

The Airflow task resolves the connection and hands the agent process the result as environment
(`env_for_agent`), because the agent runs outside the task process (a child process or a pod) where only
environment and secrets backends reach it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_serving.router.errors import ConfigurationError
from model_serving.router.models import MODEL_SPEC_PATTERN
from model_serving.router.providers import ProviderConfig, split_spec

CONN_TYPES = ("pydanticai", "pydanticai_azure")
MODEL_ENV, BASE_URL_ENV, API_KEY_ENV, API_VERSION_ENV = (
    "TICKETPILOT_LLM_MODEL", "TICKETPILOT_LLM_BASE_URL", "TICKETPILOT_LLM_API_KEY", "TICKETPILOT_LLM_API_VERSION")


class LlmConnection(BaseModel):
    """What one connection says: the model to call and how to reach it."""

    model_config = ConfigDict(frozen=True)

    conn_id: str
    model: str = Field(pattern=MODEL_SPEC_PATTERN)
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_version: str | None = None

    @property
    def provider_config(self) -> ProviderConfig:
        return ProviderConfig(base_url=self.base_url, api_key=self.api_key, api_version=self.api_version)

    def env(self, *, with_key: bool) -> dict[str, str]:
        """The agent's environment for this model. `with_key=False` for pods, whose key comes from the tenant
        namespace's secret (envFrom), never from the pod spec."""
        values = {MODEL_ENV: self.model, BASE_URL_ENV: self.base_url or "", API_VERSION_ENV: self.api_version or ""}
        if with_key and self.api_key:
            values[API_KEY_ENV] = self.api_key
        return {k: v for k, v in values.items() if v}


def from_connection(conn_id: str, conn_type: str | None, host: str | None, password: str | None,
                    extra: Mapping[str, Any]) -> LlmConnection:
    """Read one connection; a wrong type or a missing model is a configuration error that names the fix."""
    if conn_type not in CONN_TYPES:
        raise ConfigurationError(f"connection {conn_id!r} has type {conn_type!r}; model connections use "
                                 f"{' or '.join(CONN_TYPES)} (the common-ai provider's types)")
    model = str(extra.get("model") or "").strip()
    if not model:
        raise ConfigurationError(f"connection {conn_id!r} names no model: set extra "
                                 '{"model": "provider:model"}, e.g. "openai:gpt-4o-mini"')
    host = (host or "").strip() or None
    version = str(extra.get("api_version") or "").strip() or None
    if conn_type == "pydanticai_azure":
        deployment = model.removeprefix("azure:").removeprefix("openai:")
        if host and "/openai/deployments/" in host:  # common-ai's documented host form carries the deployment
            host, _, tail = host.partition("/openai/deployments/")
            deployment = tail.strip("/") or deployment
        if not host:
            raise ConfigurationError(f"connection {conn_id!r}: an Azure OpenAI connection needs the resource "
                                     "endpoint as host, e.g. https://my-resource.openai.azure.com")
        model = f"azure:{deployment}"
    split_spec(model)  # unknown providers fail here, with the list of known ones
    return LlmConnection(conn_id=conn_id, model=model, base_url=host, api_key=password or None, api_version=version)


def lookup(tenant: str, get: Callable[[str], Any] | None = None) -> LlmConnection | None:
    """The tenant's model connection (`llm_<tenant>`, else `llm_default`), or None when neither exists."""
    if get is None:
        get = _airflow_get
    for conn_id in (f"llm_{tenant}", "llm_default"):
        conn = get(conn_id)
        if conn is not None:
            return from_connection(conn_id, conn.conn_type, conn.host, conn.password, conn.extra_dejson)
    return None


def _airflow_get(conn_id: str) -> Any:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
