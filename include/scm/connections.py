"""A tenant's forge connection, read one way for every forge: the Airflow connection `<kind>_<tenant>` in the
shape of the forge's Airflow provider, resolved into one typed ForgeConnection with one kind of error.

- `ado`: type `azure_devops`; host = organisation URL (`https://dev.azure.com/<org>`), password = PAT, extra
  `project` and `auth` (`pat`, or `entra` for a service principal or managed identity: no password);
- `github`: type `github`; host = API URL for GitHub Enterprise Server (empty: api.github.com), password =
  token, extra `owner`;
- `gitlab`: type `gitlab`; host = instance URL (empty: gitlab.com; https unless a scheme is given; `port` kept),
  password = access token, extra `namespace` (optional).

Every field resolves as: the caller's override, then the connection, then (Azure DevOps only, as its hook has
always allowed) the environment `AZURE_DEVOPS_ORG_URL`, `AZURE_DEVOPS_PROJECT`, `AZURE_DEVOPS_PAT`. A missing
connection is an error unless the overrides and environment complete it. Airflow is imported on use, so the
adapters stay importable without it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from include.scm.base import ScmError

ForgeKind = Literal["ado", "github", "gitlab"]
FORGE_KINDS: tuple[ForgeKind, ...] = ("ado", "github", "gitlab")
GITHUB_API_URL = "https://api.github.com"
GITLAB_URL = "https://gitlab.com"


class ForgeConnectionError(ScmError, ValueError):
    """The connection is missing or incomplete; the message names the connection and the fix."""


class ForgeConnection(BaseModel):
    """What an adapter needs from a tenant's connection; the token stays out of repr (and so out of logs)."""

    model_config = ConfigDict(frozen=True)

    kind: ForgeKind
    conn_id: str
    url: str
    """Azure DevOps: the organisation URL; GitHub: the API URL; GitLab: the instance URL."""
    scope: str
    """Azure DevOps: the project; GitHub: the owner of the repositories; GitLab: the group path ("" for none)."""
    token: str = Field(default="", repr=False)
    auth: Literal["token", "entra"] = "token"
    """`entra`: Azure DevOps through an Entra ID service principal or managed identity (no token)."""


@dataclass(frozen=True)
class _Shape:
    conn_type: str
    scope_extra: str
    scope_required: bool
    fix: str
    env: Mapping[str, str]  # field -> environment variable read last


SHAPES: dict[ForgeKind, _Shape] = {
    "ado": _Shape("azure_devops", "project", True,
                  "type 'azure_devops' with host = the organisation URL (https://dev.azure.com/<org>), password = a "
                  "PAT, extra {\"project\": \"<project>\"}",
                  {"url": "AZURE_DEVOPS_ORG_URL", "scope": "AZURE_DEVOPS_PROJECT", "token": "AZURE_DEVOPS_PAT"}),
    "github": _Shape("github", "owner", True,
                     "type 'github' with the token as password, the API URL as host for GitHub Enterprise Server "
                     "(https://<host>/api/v3), and extra {\"owner\": \"<user or organisation>\"}", {}),
    "gitlab": _Shape("gitlab", "namespace", False,
                     "type 'gitlab' with host = the GitLab URL, password = an access token with the `api` scope and "
                     "extra {\"namespace\": \"<group path>\"}", {}),
}
_WHERE = {"url": "host", "token": "password"}


def conn_id_for(kind: ForgeKind, tenant: str) -> str:
    return f"{kind}_{tenant}"


def read_connection(kind: ForgeKind, tenant: str, conn_id: str | None = None,
                    overrides: Mapping[str, Any] | None = None) -> ForgeConnection:
    """The tenant's connection of `kind` (conn_id `<kind>_<tenant>` unless given), resolved and checked."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    conn_id = conn_id or conn_id_for(kind, tenant)
    try:
        conn = BaseHook.get_connection(conn_id)
        fields: dict[str, Any] | None = {"host": conn.host, "port": conn.port, "password": conn.password,
                                         "extra": conn.extra_dejson}
    except AirflowNotFoundException:
        fields = None
    return resolve(kind, conn_id, fields, overrides=overrides, tenant=tenant)


def resolve(kind: ForgeKind, conn_id: str, fields: Mapping[str, Any] | None, *,
            overrides: Mapping[str, Any] | None = None, tenant: str | None = None,
            environ: Mapping[str, str] | None = None) -> ForgeConnection:
    """A ForgeConnection from a connection's fields (None: there is no connection); pure, so testable alone."""
    shape = SHAPES[kind]
    environ = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    extra = dict((fields or {}).get("extra") or {})
    from_conn = {"url": (fields or {}).get("host"), "token": (fields or {}).get("password"),
                 "scope": extra.get(shape.scope_extra), "auth": extra.get("auth")}
    from_env = {name: environ.get(var) for name, var in shape.env.items()}
    value = {name: next((v for v in (overrides.get(name), from_conn.get(name), from_env.get(name)) if v), None)
             for name in ("url", "scope", "token", "auth")}
    auth = {"pat": "token", None: "token", "entra": "entra"}.get(value["auth"]) if kind == "ado" else "token"
    if auth is None:
        raise ForgeConnectionError(f"Airflow connection {conn_id!r}: auth {value['auth']!r} is not 'pat' or 'entra'")
    if fields is None and not (value["url"] and value["token"]) and not shape.env:
        whose = f" for tenant {tenant!r}" if tenant else ""
        raise ForgeConnectionError(f"no Airflow connection {conn_id!r}{whose}: create one of {shape.fix}, e.g. as "
                                   f"AIRFLOW_CONN_{conn_id.upper()}")
    url = _url(kind, value["url"], (fields or {}).get("port"))
    missing = [name for name in ("url", "scope", "token") if not (url if name == "url" else value[name])
               and not (name == "scope" and not shape.scope_required) and not (name == "token" and auth == "entra")]
    if missing:
        raise ForgeConnectionError(f"Airflow connection {conn_id!r} lacks "
                                   + ", ".join(f"{_label(kind, name)} (set {_where(kind, name)})" for name in missing)
                                   + f": it must be of {shape.fix}")
    if not url.startswith(("https://", "http://")):
        raise ForgeConnectionError(f"Airflow connection {conn_id!r}: host {url!r} must be the "
                                   f"{'API' if kind == 'github' else 'organisation'} URL: it must start with https://")
    return ForgeConnection(kind=kind, conn_id=conn_id, url=url.rstrip("/"), scope=str(value["scope"] or "").strip("/"),
                           token=str(value["token"] or ""), auth=auth)


def _url(kind: ForgeKind, host: str | None, port: int | None) -> str:
    if kind == "github":
        return host or GITHUB_API_URL
    if kind == "ado":
        return host or ""
    if not host:  # GitLab: the provider's hosts are often bare names, with the port apart
        return GITLAB_URL
    url = host if "://" in host else f"https://{host}"
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if port and ":" not in netloc:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{slash}{path}"


def _label(kind: ForgeKind, name: str) -> str:
    return {"url": "org_url" if kind == "ado" else "host", "scope": SHAPES[kind].scope_extra,
            "token": "pat" if kind == "ado" else "token"}[name]


def _where(kind: ForgeKind, name: str) -> str:
    where = _WHERE.get(name, f"extra.{SHAPES[kind].scope_extra}")
    env = SHAPES[kind].env.get(name)
    return f"{where} or {env}" if env else where
