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

from typing import Any, Literal

import httpx
from airflow.sdk import BaseHook
from pydantic import BaseModel, ConfigDict, Field

from include.scm.ado import AdoClient, PatAuth, RetryPolicy, entra_token_provider
from include.scm.ado.auth import BearerAuth
from include.scm.connections import read_connection

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
        """Resolve every field by precedence: argument, connection, environment (include/scm/connections.py, the
        one reader of every forge's connection). Raises ValueError naming what is missing and where to set it."""
        arguments = self._arguments
        conn = read_connection("ado", "", self.azure_devops_conn_id,
                               overrides={"url": arguments["org_url"], "scope": arguments["project"],
                                          "token": arguments["pat"], "auth": arguments["auth"]})
        return AdoSettings(org_url=conn.url, project=conn.scope, auth="entra" if conn.auth == "entra" else "pat",
                           pat=conn.token)

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
