"""The directory's roles as Azure DevOps security groups, against the ADO emulator's Graph API (held to the 7.1
spec) and the real platform database: groups made for the roles people hold, memberships added and removed to
match the file, people without an e-mail or not in the organisation reported, and a second apply a no-op."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from include.contracts.directory import Directory
from include.directory.ado_groups import graph_base
from include.directory.apply import apply
from include.project_factory.run import opened
from include.project_factory.spec import ProjectSpec
from include.store.tenants import create_tenant
from tests.emulators.ado.server import EmulatorServer

TENANT, PROJECT = "contoso", "Payments"


@pytest.fixture
def ado_tenant(db: psycopg.Connection, ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    create_tenant(db, TENANT, TENANT, "s", "web", [], scm_kind="ado", ado_org=ado_emulator.state.org,
                  ado_project=PROJECT)
    monkeypatch.setenv(f"AIRFLOW_CONN_ADO_{TENANT.upper()}", json.dumps(
        {"conn_type": "azure_devops", "host": ado_emulator.org_url, "password": "pat", "extra": {"project": PROJECT}}))
    spec = ProjectSpec(tenant=TENANT, repositories=[{"name": "web"}], ingress_url="https://tp.example/hooks")
    with opened(spec, poll_s=0.01) as factory:
        factory.ensure_project()
    for name in ("alice", "bob"):
        ado_emulator.seed_user(principal_name=f"{name}@team.example", display_name=name.title(),
                               mail_address=f"{name}@team.example")


def directory(approvers: list[str]) -> Directory:
    return Directory.model_validate({
        "people": [{"id": "alice", "name": "Alice", "email": "alice@team.example"},
                   {"id": "bob", "name": "Bob", "email": "bob@team.example"},
                   {"id": "carol", "name": "Carol"},
                   {"id": "dave", "name": "Dave", "email": "dave@elsewhere.example"}],
        "tenants": [{"id": TENANT, "default_repo": "web",
                     "roles": {"approver": approvers, "r3_approver": ["alice"], "viewer": ["carol", "dave"]}}]})


def run(d: Directory, **kwargs: object) -> tuple[list[str], list[str]]:
    applied = apply(d, base_dir=Path("/nonexistent"), airflow=None, actor="ops", **kwargs)  # type: ignore[arg-type]
    return [c for c in applied.changes if "ADO group" in c], applied.pending


def test_role_groups_follow_the_file(ado_tenant: None, db: psycopg.Connection) -> None:
    changes, pending = run(directory(["alice", "bob"]))
    assert changes == [
        "contoso: ADO group 'Ticketpilot Approvers' created", "contoso: ADO group 'Ticketpilot Approvers': add alice",
        "contoso: ADO group 'Ticketpilot Approvers': add bob",
        "contoso: ADO group 'Ticketpilot R3 Approvers' created",
        "contoso: ADO group 'Ticketpilot R3 Approvers': add alice"]
    assert pending == [
        "contoso: ADO group 'Ticketpilot Viewers': carol has no e-mail in the directory, so no Azure DevOps user",
        "contoso: ADO group 'Ticketpilot Viewers': dave (dave@elsewhere.example) is not a user of the organisation: "
        "add them there first"]
    assert run(directory(["alice", "bob"]))[0] == [], "a second apply changes nothing"

    dry, _ = run(directory(["alice"]), dry_run=True)
    assert dry == ["contoso: ADO group 'Ticketpilot Approvers': remove bob@team.example"]
    assert run(directory(["alice"]))[0] == dry
    assert run(directory(["alice"]))[0] == []
    audit = db.execute("SELECT details FROM ticketpilot.audit_log WHERE details->>'forge' = 'ado' ORDER BY id")
    assert [len(a["details"]["changes"]) for a in audit.fetchall()] == [5, 1]


def test_without_the_tenants_connection_the_groups_are_reported_not_done(
        db: psycopg.Connection, ado_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    create_tenant(db, TENANT, TENANT, "s", "web", [], scm_kind="ado")
    for name in ("AIRFLOW_CONN_ADO_CONTOSO", "AZURE_DEVOPS_ORG_URL", "AZURE_DEVOPS_PROJECT", "AZURE_DEVOPS_PAT"):
        monkeypatch.delenv(name, raising=False)
    _, pending = run(directory(["alice"]))
    assert pending == [f"{TENANT}: Azure DevOps groups not reconciled: Airflow connection 'ado_contoso' lacks "
                       + pending[0].split("lacks ", 1)[1]]


def test_graph_lives_on_the_vssps_host_of_the_cloud_service() -> None:
    assert graph_base("https://dev.azure.com/contoso") == "https://vssps.dev.azure.com/contoso/_apis/graph"
    assert graph_base("https://contoso.visualstudio.com/") == "https://contoso.vssps.visualstudio.com/_apis/graph"
    assert graph_base("http://127.0.0.1:8080/org") == "http://127.0.0.1:8080/org/_apis/graph"
