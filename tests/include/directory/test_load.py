"""Reading a Team Directory file: the shipped example is valid against the model and the exported JSON Schema, and
every mistake a person can make in the file fails with the place and the reason, never a silent grant or drop."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from include.contracts.directory import Role
from include.contracts.export import SCHEMA_DIR
from include.directory.load import DirectoryError, load

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "team-directory.yaml"


def test_the_example_is_valid_and_its_teams_expand_to_people() -> None:
    directory = load(EXAMPLE)
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()),
                        json.loads((SCHEMA_DIR / "team_directory.schema.json").read_text()))
    tenant = directory.tenants[0]
    assert directory.grants(tenant) == {
        ("alice", Role.APPROVER), ("bob", Role.APPROVER), ("alice", Role.R3_APPROVER), ("carol", Role.OPS),
        ("alice", Role.VIEWER), ("bob", Role.VIEWER), ("carol", Role.VIEWER)}
    assert directory.members(["team:billing", "alice", "carol"]) == ["alice", "bob", "carol"]


BASE = {"version": 1, "people": [{"id": "ann", "name": "Ann"}], "teams": [{"id": "core", "members": ["ann"]}],
        "tenants": [{"id": "acme", "default_repo": "web", "roles": {"approver": ["ann"]}}]}


def tenant(**fields: object) -> dict[str, object]:
    return {**BASE, "tenants": [{"id": "acme", "default_repo": "web", **fields}]}


@pytest.mark.parametrize(("data", "reason"), [
    (tenant(roles={"approver": ["anne"]}), "tenant 'acme', role approver: 'anne' is not a defined person"),
    (tenant(roles={"ops": ["team:cor"]}), "tenant 'acme', role ops: 'team:cor' is not a defined team"),
    (tenant(roles={"admin": ["ann"]}), "tenants.0.roles.admin.[key]: Input should be 'approver', 'r3_approver'"),
    (tenant(repositories=[{"name": "web", "owners": {"*": ["bob"]}}]),
     "tenant 'acme', owners of web:*: 'bob' is not a defined person"),
    (tenant(repositories=[{"name": "web"}, {"name": "web"}]), "tenant 'acme' lists a repository twice"),
    (tenant(pool_slots=0), "tenants.0.pool_slots: Input should be greater than or equal to 1"),
    (tenant(aprovers=["ann"]), "tenants.0.aprovers: Extra inputs are not permitted"),
    ({**BASE, "teams": [{"id": "core", "members": ["zed"]}]}, "team 'core' lists unknown people: zed"),
    ({**BASE, "people": [{"id": "ann", "name": "A"}, {"id": "ann", "name": "B"}]}, "person id(s) listed twice: ann"),
    ({**BASE, "version": 2}, "version: Input should be 1"),
    ({**BASE, "tenants": [{"id": "Acme Corp", "default_repo": "web"}]}, "tenants.0.id: String should match pattern"),
])
def test_a_mistake_names_its_place_and_reason(tmp_path: Path, data: dict[str, object], reason: str) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DirectoryError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ") and reason in str(caught.value), str(caught.value)


@pytest.mark.parametrize(("text", "reason"), [
    ("people: [ann\n", "is not valid YAML"),
    ("- just\n- a list\n", "must hold a mapping"),
])
def test_a_file_that_is_no_directory_at_all(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(text)
    with pytest.raises(DirectoryError, match=reason):
        load(path)
    with pytest.raises(DirectoryError, match="cannot read the directory"):
        load(tmp_path / "missing.yaml")
