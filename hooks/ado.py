"""AzureDevOpsHook: one Azure DevOps organisation and project as an Airflow connection.

Fields: host = organisation URL (`https://dev.azure.com/<org>`), password = PAT, extra `project` and
`auth` (`pat`, the default, or `entra` for a service principal or managed identity through azure-identity;
the password is then unused). Every setting resolves as argument, then connection (host/password/extra),
then environment (`AZURE_DEVOPS_ORG_URL`, `AZURE_DEVOPS_PROJECT`, `AZURE_DEVOPS_PAT`). A missing connection
is not an error as long as the environment completes the settings.

The connection type appears in the Airflow UI because the project is installed as a provider distribution
(metadata only: `pyproject.toml`'s `apache_airflow_provider` entry point, see hooks/provider_info.py); the
hook works for every `azure_devops` connection however it is defined (UI, CLI, `AIRFLOW_CONN_*`, secrets
backend).
"""

from __future__ import annotations

import os
from typing import Any, Literal

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from pydantic import BaseModel, ConfigDict, Field

from include.scm.ado import AdoClient, PatAuth, RetryPolicy, entra_token_provider
from include.scm.ado.auth import BearerAuth

AuthKind = Literal["pat", "entra"]
ENV_ORG_URL = "AZURE_DEVOPS_ORG_URL"
ENV_PROJECT = "AZURE_DEVOPS_PROJECT"
ENV_PAT = "AZURE_DEVOPS_PAT"


class AdoSettings(BaseModel):
    """The resolved configuration; the PAT is kept out of repr so it never reaches a log line."""

    model_config = ConfigDict(frozen=True)

    org_url: str
    project: str
    auth: AuthKind
    pat: str = Field(default="", repr=False)


class AzureDevOpsHook(BaseHook):
    """Builds AdoClients (REST 7.1) from an `azure_devops` connection; see the module docstring."""

    conn_name_attr = "azure_devops_conn_id"
    default_conn_name = "azure_devops_default"
    conn_type = "azure_devops"
    hook_name = "Azure DevOps"

    def __init__(
        self,
        azure_devops_conn_id: str = default_conn_name,
        *,
        org_url: str | None = None,
        project: str | None = None,
        pat: str | None = None,
        auth: AuthKind | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.azure_devops_conn_id = azure_devops_conn_id
        self._arguments = {"org_url": org_url, "project": project, "pat": pat, "auth": auth}
        self.policy = policy

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port", "login"],
            "relabeling": {"host": "Organisation URL", "password": "Personal access token (PAT)"},
            "placeholders": {
                "host": "https://dev.azure.com/<organisation>",
                "password": "PAT with Code (Read & write), Work Items (Read & write), Build (Read & execute)",
                "extra": '{"project": "<project name>", "auth": "pat | entra"}',
            },
        }

    def settings(self) -> AdoSettings:
        """Resolve every field by precedence: argument, connection, environment."""
        try:
            conn = self.get_connection(self.azure_devops_conn_id)
            from_conn = {"org_url": conn.host, "pat": conn.password, **conn.extra_dejson}
        except AirflowNotFoundException:
            self.log.info("No connection %r; Azure DevOps settings come from arguments and environment",
                          self.azure_devops_conn_id)
            from_conn = {}
        from_env = {"org_url": os.environ.get(ENV_ORG_URL), "project": os.environ.get(ENV_PROJECT),
                    "pat": os.environ.get(ENV_PAT)}
        resolved = {
            key: next((v for v in (self._arguments[key], from_conn.get(key), from_env.get(key)) if v), None)
            for key in ("org_url", "project", "pat", "auth")
        }
        resolved["auth"] = resolved["auth"] or "pat"
        missing = [k for k in ("org_url", "project") if not resolved[k]]
        if resolved["auth"] == "pat" and not resolved["pat"]:
            missing.append("pat")
        if resolved["auth"] not in ("pat", "entra"):
            raise ValueError(f"connection {self.azure_devops_conn_id!r}: auth {resolved['auth']!r} is not "
                             "'pat' or 'entra'")
        if missing:
            where = {"org_url": f"host or {ENV_ORG_URL}", "project": f"extra.project or {ENV_PROJECT}",
                     "pat": f"password or {ENV_PAT}"}
            raise ValueError(f"connection {self.azure_devops_conn_id!r} lacks "
                             + ", ".join(f"{k} (set {where[k]})" for k in missing))
        if not str(resolved["org_url"]).startswith(("https://", "http://")):
            raise ValueError(f"connection {self.azure_devops_conn_id!r}: organisation URL "
                             f"{resolved['org_url']!r} must start with https://")
        return AdoSettings(**{k: v for k, v in resolved.items() if v is not None})

    def auth(self, settings: AdoSettings | None = None) -> httpx.Auth:
        settings = settings or self.settings()
        if settings.auth == "entra":
            return BearerAuth(entra_token_provider())
        return PatAuth(settings.pat)

    def get_conn(self) -> AdoClient:
        settings = self.settings()
        return AdoClient(settings.org_url, settings.project, auth=self.auth(settings), policy=self.policy)

    def test_connection(self) -> tuple[bool, str]:
        """Validate the configuration locally; never calls Azure DevOps (costs nothing, leaks nothing)."""
        try:
            settings = self.settings()
        except ValueError as exc:
            return False, str(exc)
        return True, (f"Configuration is complete ({settings.auth} auth for {settings.org_url}, project "
                      f"{settings.project!r}); checked locally only, Azure DevOps was not called.")
