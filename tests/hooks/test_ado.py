"""AzureDevOpsHook: precedence (argument, connection, environment) and a test_connection that costs nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hooks.ado import AzureDevOpsHook
from include.runners.local import TASK_CHILD_ENV
from include.scm.ado import AdoClient, BearerAuth, PatAuth
from include.settings import REPO_ROOT

CONN_ID = "ado_hook_test"
BLOCKED_DB = "airflow-db-not-allowed:///"  # what the Task SDK's supervisor puts in a task process
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


def test_a_plain_child_process_resolves_the_connection_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Agents run as plain Python children of the task process (no Task SDK supervisor, database access
    blocked the way the task process blocks it): the connection must resolve from `AIRFLOW_CONN_*` there."""
    connection(monkeypatch, host=ORG, password="child-pat", extra={"project": "proj"})
    probe = ("from hooks.ado import AzureDevOpsHook; "
             f"s = AzureDevOpsHook({CONN_ID!r}).settings(); print(s.org_url, s.project, s.pat)")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": BLOCKED_DB,
           **TASK_CHILD_ENV}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True,
                         timeout=60).stdout
    assert out.splitlines()[-1] == f"{ORG} proj child-pat"
