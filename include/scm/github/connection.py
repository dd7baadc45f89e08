"""A tenant's GitHub settings from its Airflow connection `github_<tenant>`, in the shape of the official
apache-airflow-providers-github connection type "github": password = token, host = API base URL for GitHub
Enterprise Server (`https://<host>/api/v3`; empty means https://api.github.com). The provider has no field
for the account owning the repositories, so it is `extra.owner` (or the caller's argument, which wins).
Airflow is imported on use, so the adapter itself stays importable without it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from include.scm.base import ScmError
from include.scm.github.client import DEFAULT_API_URL


class GitHubSettings(BaseModel):
    """The resolved configuration; the token is kept out of repr so it never reaches a log line."""

    model_config = ConfigDict(frozen=True)

    api_url: str
    owner: str
    token: str = Field(repr=False)


def connection_settings(conn_id: str, *, owner: str | None = None) -> GitHubSettings:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise ScmError(
            f"no Airflow connection {conn_id!r}: create one of type 'github' with the token as password, the API "
            "URL as host for GitHub Enterprise Server, and extra {\"owner\": \"<user or organisation>\"}"
        ) from exc
    api_url = conn.host or DEFAULT_API_URL
    owner = owner or conn.extra_dejson.get("owner")
    missing = [name for name, value in (("password (the token)", conn.password), ("extra.owner", owner)) if not value]
    if missing:
        raise ScmError(f"Airflow connection {conn_id!r} lacks {' and '.join(missing)}")
    if not api_url.startswith(("https://", "http://")):
        raise ScmError(f"Airflow connection {conn_id!r}: host {api_url!r} must be the API URL, starting with https://")
    return GitHubSettings(api_url=api_url, owner=str(owner), token=str(conn.password))
