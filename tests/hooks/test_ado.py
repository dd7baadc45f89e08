"""AzureDevOpsHook: precedence (argument, connection, environment) and a test_connection that costs nothing."""

from __future__ import annotations

import json

import pytest

from hooks.ado import AzureDevOpsHook
from include.scm.ado import AdoClient, BearerAuth, PatAuth

CONN_ID = "ado_hook_test"
ORG = "https://dev.azure.com/contoso"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_DEVOPS_ORG_URL", "AZURE_DEVOPS_PROJECT", "AZURE_DEVOPS_PAT"):
        monkeypatch.delenv(name, raising=False)


def connection(monkeypatch: pytest.MonkeyPatch, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "azure_devops", **fields}))


def test_identity_and_ui_fields() -> None:
    assert (AzureDevOpsHook.conn_type, AzureDevOpsHook.default_conn_name) == ("azure_devops", "azure_devops_default")
    assert AzureDevOpsHook.conn_name_attr == "azure_devops_conn_id" and AzureDevOpsHook.hook_name == "Azure DevOps"
    behaviour = AzureDevOpsHook.get_ui_field_behaviour()
    assert "login" in behaviour["hidden_fields"] and behaviour["relabeling"]["host"] == "Organisation URL"


def test_argument_beats_connection_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    connection(monkeypatch, host=ORG, password="conn-pat", extra={"project": "from-conn"})
    monkeypatch.setenv("AZURE_DEVOPS_PROJECT", "from-env")
    monkeypatch.setenv("AZURE_DEVOPS_PAT", "env-pat")
    assert AzureDevOpsHook(CONN_ID).settings().project == "from-conn"
    assert AzureDevOpsHook(CONN_ID, project="from-arg").settings().project == "from-arg"
    assert AzureDevOpsHook(CONN_ID).settings().pat == "conn-pat"
    connection(monkeypatch, host=ORG)
    settings = AzureDevOpsHook(CONN_ID).settings()
    assert (settings.project, settings.pat, settings.auth) == ("from-env", "env-pat", "pat")
    assert "env-pat" not in repr(settings)


def test_environment_alone_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_DEVOPS_ORG_URL", ORG)
    monkeypatch.setenv("AZURE_DEVOPS_PROJECT", "proj")
    monkeypatch.setenv("AZURE_DEVOPS_PAT", "env-pat")
    hook = AzureDevOpsHook("no_such_connection")
    client = hook.get_conn()
    assert isinstance(client, AdoClient) and client.base_url == f"{ORG}/proj/_apis"
    assert isinstance(hook.auth(), PatAuth)
    client.close()


def test_entra_needs_no_pat(monkeypatch: pytest.MonkeyPatch) -> None:
    connection(monkeypatch, host=ORG, extra={"project": "proj", "auth": "entra"})
    hook = AzureDevOpsHook(CONN_ID)
    assert hook.settings().auth == "entra"
    try:
        assert isinstance(hook.auth(), BearerAuth)
    except ImportError as exc:  # azure-identity is optional; the hint says how to get it
        assert "pip install azure-identity" in str(exc)


def test_test_connection_validates_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    connection(monkeypatch, host=ORG, password="pat", extra={"project": "proj"})
    ok, message = AzureDevOpsHook(CONN_ID).test_connection()
    assert ok and "checked locally only" in message and "pat" not in message.split("(")[0]
    connection(monkeypatch, host="dev.azure.com/contoso", extra={"auth": "token"})
    ok, message = AzureDevOpsHook(CONN_ID).test_connection()
    assert not ok and "auth 'token'" in message
    connection(monkeypatch, host="dev.azure.com/contoso", extra={})
    ok, message = AzureDevOpsHook(CONN_ID).test_connection()
    assert not ok and "lacks project (set extra.project or AZURE_DEVOPS_PROJECT), pat" in message
    connection(monkeypatch, host="dev.azure.com/contoso", password="p", extra={"project": "proj"})
    ok, message = AzureDevOpsHook(CONN_ID).test_connection()
    assert not ok and "must start with https://" in message
