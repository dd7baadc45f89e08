"""One reader for every forge's connection: each provider's shape resolves to the same typed ForgeConnection,
overrides win, only Azure DevOps falls back to its environment variables, and every gap is one error that names
the connection, what is missing, where to set it and the shape to create. Read through Airflow's own connection
lookup (`AIRFLOW_CONN_*`), as tasks and agents do."""

from __future__ import annotations

import json

import pytest

from include.scm.connections import ForgeConnectionError, read_connection, resolve

ADO_ENV = {"AZURE_DEVOPS_ORG_URL": "https://dev.azure.com/env-org", "AZURE_DEVOPS_PROJECT": "EnvProject",
           "AZURE_DEVOPS_PAT": "env-pat"}


@pytest.mark.parametrize(("kind", "fields", "want"), [
    ("ado", {"host": "https://dev.azure.com/contoso/", "password": "pat", "extra": {"project": "Web"}},
     ("https://dev.azure.com/contoso", "Web", "pat", "token")),
    ("ado", {"host": "https://dev.azure.com/contoso", "extra": {"project": "Web", "auth": "entra"}},
     ("https://dev.azure.com/contoso", "Web", "", "entra")),
    ("github", {"password": "ghp_x", "extra": {"owner": "acme"}}, ("https://api.github.com", "acme", "ghp_x", "token")),
    ("github", {"host": "https://ghe.example.com/api/v3", "password": "t", "extra": {"owner": "acme"}},
     ("https://ghe.example.com/api/v3", "acme", "t", "token")),
    ("gitlab", {"password": "glpat"}, ("https://gitlab.com", "", "glpat", "token")),
    ("gitlab", {"host": "git.example.com", "port": 8443, "password": "glpat", "extra": {"namespace": "acme/web/"}},
     ("https://git.example.com:8443", "acme/web", "glpat", "token")),
])
def test_each_providers_shape_resolves_to_one_typed_connection(kind: str, fields: dict, want: tuple) -> None:
    conn = resolve(kind, f"{kind}_acme", fields, environ={})  # type: ignore[arg-type]
    assert (conn.url, conn.scope, conn.token, conn.auth) == want
    assert "token=" not in repr(conn), "the token never reaches a log line"


def test_overrides_win_and_only_azure_devops_reads_its_environment() -> None:
    github = resolve("github", "github_acme", {"password": "t", "extra": {"owner": "acme"}},
                     overrides={"scope": "other", "url": None}, environ={})
    assert github.scope == "other" and github.url == "https://api.github.com"
    ado = resolve("ado", "ado_acme", None, environ=ADO_ENV)
    assert (ado.url, ado.scope, ado.token) == ("https://dev.azure.com/env-org", "EnvProject", "env-pat")
    with pytest.raises(ForgeConnectionError, match="no Airflow connection 'github_acme' for tenant 'acme'"):
        resolve("github", "github_acme", None, tenant="acme", environ=ADO_ENV)


@pytest.mark.parametrize(("kind", "fields", "message"), [
    ("ado", {"host": "https://dev.azure.com/c", "extra": {}},
     "'ado_acme' lacks project (set extra.project or AZURE_DEVOPS_PROJECT), pat (set password or AZURE_DEVOPS_PAT)"),
    ("ado", {"host": "dev.azure.com/c", "password": "p", "extra": {"project": "W"}},
     "host 'dev.azure.com/c' must be the organisation URL: it must start with https://"),
    ("ado", {"host": "https://dev.azure.com/c", "password": "p", "extra": {"project": "W", "auth": "oauth"}},
     "auth 'oauth' is not 'pat' or 'entra'"),
    ("github", {"password": "t", "extra": {}}, "'github_acme' lacks owner (set extra.owner): it must be of type "
                                                "'github'"),
    ("gitlab", {"host": "git.example.com"}, "'gitlab_acme' lacks token (set password): it must be of type 'gitlab'"),
    ("gitlab", None, "no Airflow connection 'gitlab_acme' for tenant 'acme': create one of type 'gitlab' with host = "
                     "the GitLab URL, password = an access token"),
])
def test_every_gap_names_the_connection_and_the_fix(kind: str, fields: dict | None, message: str) -> None:
    with pytest.raises(ForgeConnectionError) as raised:
        resolve(kind, f"{kind}_acme", fields, tenant="acme", environ={})  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError), "the Azure DevOps hook's test_connection catches ValueError"


def test_read_through_airflows_connection_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GITLAB_ACME", json.dumps(
        {"conn_type": "gitlab", "host": "https://gitlab.example.org", "password": "glpat",
         "extra": {"namespace": "a"}}))
    conn = read_connection("gitlab", "acme")
    assert (conn.conn_id, conn.url, conn.scope) == ("gitlab_acme", "https://gitlab.example.org", "a")
    for name in ADO_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ForgeConnectionError, match="'ado_acme' lacks org_url"):
        read_connection("ado", "acme")
