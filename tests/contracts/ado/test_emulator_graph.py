"""The emulator's graph endpoints (users, security groups, memberships) held to Microsoft's graph 7.1 spec
(tests/emulators/ado/specs/graph/, an excerpt of the operations served): every answer validates against its
response schema and uses only declared top-level fields, statuses are the spec's or the recorded example's, the
api-version is the one the spec names, and top-level keys match the recorded examples. Then what the Team
Directory reconcile relies on: a project's scope descriptor, a group per project kept to exactly the
directory's people by adding and removing memberships, duplicates refused, unknown descriptors 404."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.emulators.ado.server import EmulatorServer

SPECS = Path(__file__).resolve().parents[2] / "emulators" / "ado" / "specs" / "graph"
GRAPH = "/{organization}/_apis/graph"
MEMBERSHIP = GRAPH + "/memberships/{subjectDescriptor}/{containerDescriptor}"
VERSION = "7.1-preview.1"
AGILE = "adcc42ab-9882-485e-a3ed-7678f01f66bc"
DEFAULT_GROUPS = {"Project Administrators", "Build Administrators", "Contributors", "Readers", "Project Valid Users"}


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # the spec's path template
    status: int  # what the emulator answers; test_statuses_are_documented checks the spec or the example says so
    example: str | None = None  # a recorded example under SPECS/httpExamples, for the top-level keys


OPS: dict[str, Op] = {
    "get_descriptor": Op("GET", GRAPH + "/descriptors/{storageKey}", 200, "Descriptors/GetDescriptorById.json"),
    "create_group": Op("POST", GRAPH + "/groups", 201, "Groups/CreateGroupInProject.json"),
    "list_groups": Op("GET", GRAPH + "/groups", 200),
    "get_group": Op("GET", GRAPH + "/groups/{groupDescriptor}", 200),
    "delete_group": Op("DELETE", GRAPH + "/groups/{groupDescriptor}", 204, "Groups/DeleteGroup.json"),
    "list_users": Op("GET", GRAPH + "/users", 200),
    "get_user": Op("GET", GRAPH + "/users/{userDescriptor}", 200, "Users/GetUserAAD.json"),
    "add_membership": Op("PUT", MEMBERSHIP, 201, "Memberships/CreateMembershipVSTSGroup.json"),
    "check_membership": Op("HEAD", MEMBERSHIP, 200, "Memberships/CheckMembershipExistenceUser.json"),
    "get_membership": Op("GET", MEMBERSHIP, 200, "Memberships/GetMembershipUser.json"),
    "remove_membership": Op("DELETE", MEMBERSHIP, 200, "Memberships/DeleteMembershipUser.json"),
    "list_memberships": Op("GET", GRAPH.replace("graph", "graph/Memberships") + "/{subjectDescriptor}", 200,
                           "MembershipsBatch/BatchGetMembershipsGroupDown.json"),
}
# Top-level keys where an answer and its recorded example may differ.
KEY_ALLOWANCES: dict[str, dict[str, str]] = {
    "get_user": {"metaType": "declared by AadGraphMember; the recorded GetAllUsers answers carry it for aad users"},
    "add_membership": {"_links": "declared by GraphMembership; GetMembershipUser records them, this migrated "
                                 "(x-ms-vss-format 2) example was stored without"},
    "list_memberships": {"_links": "as add_membership"},
}


@cache
def spec() -> dict[str, Any]:
    return json.loads((SPECS / "graph.json").read_text(encoding="utf-8-sig"))


@cache
def registry() -> Registry:
    return Registry().with_resource("urn:ado:graph", Resource.from_contents(spec(), default_specification=DRAFT4))


@cache
def example(relative: str) -> dict[str, Any]:
    return json.loads((SPECS / "httpExamples" / relative).read_text(encoding="utf-8-sig"))


def operation(op: Op) -> dict[str, Any]:
    return spec()["paths"][op.path][op.method.lower()]


def documented(op: Op) -> set[int]:
    statuses = {int(code) for code in operation(op)["responses"]}
    if op.example:
        statuses |= {int(code) for code in example(op.example)["responses"]}
    return statuses


def response_schema(op: Op) -> dict[str, Any] | None:
    return operation(op)["responses"]["200"].get("schema")


def declared(schema: dict[str, Any]) -> set[str]:
    """Every property a schema declares, through $ref and allOf."""
    if "$ref" in schema:
        return declared(spec()["definitions"][schema["$ref"].split("/")[-1]])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= declared(part)
    return names


def pruned(value: Any) -> Any:
    """Nulls dropped: Swagger 2.0 cannot declare them, and ADO sends null (a group's mailAddress)."""
    if isinstance(value, dict):
        return {k: pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    validator = Draft4Validator({"$ref": f"urn:ado:graph{schema['$ref']}"}, registry=registry())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(pruned(value))]


def assert_conforms(name: str, status: int, body: Any, *, nonempty: bool = False) -> None:
    """The answer has the operation's status and, for a body, the spec's shape (lists in ADO's envelope)."""
    op = OPS[name]
    assert status == op.status, body
    schema = response_schema(op)
    if schema is None:
        assert body is None, body
        return
    if schema.get("type") == "array":
        assert set(body) == {"value", "count"} and body["count"] == len(body["value"]) >= nonempty, body
        schema, objects = schema["items"], body["value"]
    else:
        objects = [body]
    for obj in objects:
        assert not schema_errors(schema, obj), schema_errors(schema, obj)
        undeclared = set(obj) - declared(schema)
        assert not undeclared, f"{name}: fields the schema does not declare: {undeclared}"


class Graph:
    """The emulator's graph API by spec operation: request bodies are checked against the spec before they are
    sent, successful answers after; the first success of each operation is kept for the parametrized tests."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.http = httpx.Client(base_url=emulator.url, auth=("", "pat"), timeout=10)
        self.answers: dict[str, tuple[int, Any]] = {}

    def call(self, name: str, body: Any = None, query: dict[str, str] | None = None, **params: str) -> httpx.Response:
        op = OPS[name]
        values = {"organization": self.emulator.state.org} | params
        path = op.path.format(**{k: quote(v, safe="") for k, v in values.items()})
        if body is not None:
            (param,) = [p for p in operation(op)["parameters"] if p.get("in") == "body"]
            for schema in (param["schema"], {"$ref": "#/definitions/GraphGroupVstsCreationContext"}):
                assert not schema_errors(schema, body), f"{name}: the body does not fit {schema}"
        response = self.http.request(op.method, path, params={"api-version": VERSION, **(query or {})}, json=body)
        if response.is_success:
            answer = response.json() if response.content and op.method != "HEAD" else None
            assert_conforms(name, response.status_code, answer)
            self.answers.setdefault(name, (response.status_code, answer))
        return response

    def ok(self, name: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.call(name, body, **kwargs)
        assert response.is_success, response.text
        return response.json() if response.content and OPS[name].method != "HEAD" else None

    def new_project(self, name: str) -> dict[str, Any]:
        """A project made through the projects API (its operation polled to the end); returns the TeamProject."""
        org, v = self.emulator.state.org, {"api-version": "7.1-preview.4"}
        queued = self.http.post(f"/{org}/_apis/projects", params=v, json={"name": name, "capabilities": {
            "versioncontrol": {"sourceControlType": "Git"}, "processTemplate": {"templateTypeId": AGILE}}})
        assert queued.status_code == 202, queued.text
        for _ in range(2):
            self.http.get(f"/{org}/_apis/operations/{queued.json()['id']}", params={"api-version": VERSION})
        project = self.http.get(f"/{org}/_apis/projects/{quote(name)}", params=v).json()
        assert project["state"] == "wellFormed", project
        return project

    def scope(self, project: dict[str, Any]) -> str:
        return self.ok("get_descriptor", storageKey=project["id"])["value"]

    def group(self, scope: str, name: str, description: str = "") -> dict[str, Any]:
        return self.ok("create_group", {"displayName": name, "description": description},
                       query={"scopeDescriptor": scope})

    def members(self, group: dict[str, Any]) -> list[str]:
        listed = self.ok("list_memberships", subjectDescriptor=group["descriptor"], query={"direction": "down"})
        assert all(m["containerDescriptor"] == group["descriptor"] for m in listed["value"])
        return [m["memberDescriptor"] for m in listed["value"]]


def error_key(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["typeKey"]


def decoded(descriptor: str) -> str:
    encoded = descriptor.split(".", 1)[1]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


@pytest.fixture
def graph(ado_emulator: EmulatorServer) -> Iterator[Graph]:
    client = Graph(ado_emulator)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def answers(ado_server: EmulatorServer) -> dict[str, tuple[int, Any]]:
    """One reconcile over every operation on a fresh emulator; the first answer of each is kept."""
    ado_server.reset()
    graph = Graph(ado_server)
    scope = graph.scope(graph.new_project("Team Alpha"))
    approvers = graph.group(scope, "Ticketpilot Approvers", "Approves Ticketpilot changes")
    ada = ado_server.seed_user("ada@example.test", "Ada Lovelace")
    graph.ok("list_groups", query={"scopeDescriptor": scope})
    graph.ok("get_group", groupDescriptor=approvers["descriptor"])
    graph.ok("list_users")
    graph.ok("get_user", userDescriptor=ada["descriptor"])
    pair = {"subjectDescriptor": ada["descriptor"], "containerDescriptor": approvers["descriptor"]}
    graph.ok("add_membership", **pair)
    graph.ok("check_membership", **pair)
    graph.ok("get_membership", **pair)
    graph.ok("list_memberships", subjectDescriptor=approvers["descriptor"], query={"direction": "Down"})
    graph.ok("remove_membership", **pair)
    graph.ok("delete_group", groupDescriptor=approvers["descriptor"])
    graph.http.close()
    return graph.answers


@pytest.mark.parametrize("name", sorted(OPS))
def test_answer_matches_the_response_schema(name: str, answers: dict[str, tuple[int, Any]]) -> None:
    assert name in answers, f"the reconcile never got a successful {name}"
    assert_conforms(name, *answers[name], nonempty=True)


@pytest.mark.parametrize("name", sorted(OPS))
def test_statuses_and_versions_are_documented(name: str) -> None:
    """Each status is the spec's or its recorded example's; each operation is preview, version 7.1-preview.1."""
    op = OPS[name]
    assert op.status in documented(op), f"{name}: {op.status} is in neither the spec nor its example"
    assert operation(op)["x-ms-docs-override-version"] == VERSION and operation(op)["x-ms-preview"] is True
    assert {"$ref": "#/parameters/api-Version-preview.1"} in operation(op)["parameters"]


def test_membership_check_documents_404() -> None:
    assert documented(OPS["check_membership"]) == {200, 404}


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.example))
def test_top_level_keys_match_the_recorded_example(name: str, answers: dict[str, tuple[int, Any]]) -> None:
    (recorded,) = [r.get("body") for r in example(str(OPS[name].example))["responses"].values()]
    _, body = answers[name]
    if recorded is None:
        assert body is None
        return
    if isinstance(recorded.get("value"), list):  # a listing (a GraphDescriptorResult's value is a string)
        recorded, body = recorded["value"][0], body["value"][0]
    unexplained = (set(recorded) ^ set(body)) - set(KEY_ALLOWANCES.get(name, {}))
    assert not unexplained, f"emulator-only: {set(body) - set(recorded)}, example-only: {set(recorded) - set(body)}"


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.example))
def test_recorded_examples_match_the_schemas(name: str) -> None:
    """The schemas accept what the real service sent and was sent, so they judge the emulator fairly."""
    op = OPS[name]
    recorded = example(str(op.example))
    body = recorded["parameters"].get("body")
    if body is not None:
        assert not schema_errors({"$ref": "#/definitions/GraphGroupVstsCreationContext"}, body)
    (answer,) = [r.get("body") for r in recorded["responses"].values()]
    schema = response_schema(op)
    if answer is not None and schema is not None:
        if schema.get("type") == "array":
            schema, answer = schema["items"], answer["value"][0]
        assert not schema_errors(schema, answer)


def test_a_project_group_is_kept_to_the_directorys_people(graph: Graph) -> None:
    """The Team Directory cycle: project -> scope -> group -> two users in -> one out -> one left."""
    project = graph.new_project("Team Alpha")
    scope = graph.scope(project)
    assert scope.startswith("scp.") and decoded(scope) == project["id"]
    approvers = graph.group(scope, "Ticketpilot Approvers", "People who approve Ticketpilot changes")
    assert approvers["descriptor"].startswith("vssgp.") and decoded(approvers["descriptor"]).startswith("S-1-9-")
    assert (approvers["principalName"], approvers["origin"], approvers["subjectKind"]) == (
        "[Team Alpha]\\Ticketpilot Approvers", "vsts", "group")
    assert approvers["domain"] == f"vstfs:///Classification/TeamProject/{project['id']}"
    assert graph.ok("get_descriptor", storageKey=approvers["originId"])["value"] == approvers["descriptor"]
    listed = {g["displayName"]: g for g in graph.ok("list_groups", query={"scopeDescriptor": scope})["value"]}
    assert set(listed) == DEFAULT_GROUPS | {"Team Alpha Team", "Ticketpilot Approvers"}
    assert listed["Ticketpilot Approvers"] == approvers
    assert "Ticketpilot Approvers" not in {g["displayName"] for g in graph.ok(
        "list_groups", query={"scopeDescriptor": graph.scope(graph.new_project("Team Beta"))})["value"]}

    ada = graph.emulator.seed_user("ada@example.test", "Ada Lovelace")
    alan = graph.emulator.seed_user("alan@example.test", "Alan Turing", "turing@example.test")
    assert ada["descriptor"].startswith("aad.") and ada["mailAddress"] == "ada@example.test"
    assert graph.emulator.seed_user("ADA@example.test")["descriptor"] == ada["descriptor"], "seeding is idempotent"
    users = {u["principalName"]: u for u in graph.ok("list_users")["value"]}
    assert users["alan@example.test"]["mailAddress"] == "turing@example.test", "clients match by principal or mail"
    assert graph.ok("get_user", userDescriptor=alan["descriptor"]) == users["alan@example.test"] == alan
    assert graph.ok("get_descriptor", storageKey=decoded(ada["descriptor"]))["value"] == ada["descriptor"]

    added = {u["principalName"]: graph.ok("add_membership", subjectDescriptor=u["descriptor"],
                                          containerDescriptor=approvers["descriptor"]) for u in (ada, alan)}
    assert (added["ada@example.test"]["memberDescriptor"], added["ada@example.test"]["containerDescriptor"]) == (
        ada["descriptor"], approvers["descriptor"])
    assert added["ada@example.test"]["_links"]["member"]["href"] == ada["url"]
    again = graph.call("add_membership", subjectDescriptor=ada["descriptor"],
                       containerDescriptor=approvers["descriptor"])
    assert (again.status_code, again.json()) == (201, added["ada@example.test"]), "a repeated add is idempotent"
    assert graph.members(approvers) == [ada["descriptor"], alan["descriptor"]], "a repeated add adds nothing"
    up = graph.ok("list_memberships", subjectDescriptor=alan["descriptor"])["value"]
    assert [m["containerDescriptor"] for m in up] == [approvers["descriptor"]], "direction defaults to up"
    scoped = graph.ok("list_users", query={"scopeDescriptor": scope})["value"]
    assert {u["principalName"] for u in scoped} == {"ada@example.test", "alan@example.test"}

    pair = {"subjectDescriptor": alan["descriptor"], "containerDescriptor": approvers["descriptor"]}
    assert graph.call("check_membership", **pair).status_code == 200
    graph.ok("remove_membership", **pair)
    assert graph.members(approvers) == [ada["descriptor"]]
    assert graph.call("check_membership", **pair).status_code == 404
    assert error_key(graph.call("get_membership", **pair)) == (404, "GraphMembershipNotFoundException")
    assert error_key(graph.call("remove_membership", **pair)) == (404, "GraphMembershipNotFoundException")

    duplicate = graph.call("create_group", {"displayName": "TICKETPILOT approvers"}, query={"scopeDescriptor": scope})
    assert error_key(duplicate) == (409, "GroupCreationException")
    assert duplicate.json()["message"].startswith("TF50624: A group named TICKETPILOT approvers already exists")
    assert error_key(graph.call("create_group", {"displayName": "Contributors"}, query={"scopeDescriptor": scope}))[
        0] == 409, "the default groups take their names too"


def test_unknown_descriptors_are_404(graph: Graph) -> None:
    scope = graph.scope(graph.new_project("Team Alpha"))
    group = graph.group(scope, "Ticketpilot Approvers")
    user = graph.emulator.seed_user("ada@example.test")
    ghost_group = "vssgp.Uy0xLTktMTU1MTM3NDI0NS0xLTItMy00LTEtNS02LTctOA"
    ghost_user = "aad.MDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAw"
    missing = "9b1c7e0e-0000-4000-8000-000000000000"
    assert error_key(graph.call("get_descriptor", storageKey=missing)) == (404, "SubjectDescriptorNotFoundException")
    assert error_key(graph.call("get_group", groupDescriptor=ghost_group)) == (404, "GraphSubjectNotFoundException")
    assert error_key(graph.call("get_user", userDescriptor=ghost_user)) == (404, "GraphSubjectNotFoundException")
    assert error_key(graph.call("delete_group", groupDescriptor=ghost_group))[0] == 404
    for subject, container, ghost in ((ghost_user, group["descriptor"], ghost_user),
                                      (user["descriptor"], ghost_group, ghost_group)):
        put = graph.call("add_membership", subjectDescriptor=subject, containerDescriptor=container)
        assert error_key(put) == (404, "GraphSubjectNotFoundException") and f"'{ghost}'" in put.json()["message"]
        assert graph.call("check_membership", subjectDescriptor=subject, containerDescriptor=container
                          ).status_code == 404
    assert error_key(graph.call("list_memberships", subjectDescriptor=ghost_group))[0] == 404
    wrong_scope = graph.call("create_group", {"displayName": "X"}, query={"scopeDescriptor": "scp.bm93aGVyZQ"})
    assert error_key(wrong_scope) == (404, "GraphSubjectNotFoundException")
    assert error_key(graph.call("list_groups", query={"scopeDescriptor": ghost_group}))[0] == 404
    not_a_group = graph.call("add_membership", subjectDescriptor=group["descriptor"],
                             containerDescriptor=user["descriptor"])
    assert error_key(not_a_group) == (400, "CannotEditChildrenOfNonGroupException")
    assert graph.members(group) == []


def test_a_deleted_group_is_gone_but_still_readable(graph: Graph) -> None:
    """Groups - Delete: 204; the spec keeps the group readable by descriptor, but it is listed nowhere, has no
    memberships left, takes none, and its name can be used again."""
    scope = graph.scope(graph.new_project("Team Alpha"))
    approvers = graph.group(scope, "Ticketpilot Approvers")
    parent = graph.group(scope, "Ticketpilot People")
    ada = graph.emulator.seed_user("ada@example.test")
    graph.ok("add_membership", subjectDescriptor=ada["descriptor"], containerDescriptor=approvers["descriptor"])
    graph.ok("add_membership", subjectDescriptor=approvers["descriptor"], containerDescriptor=parent["descriptor"])
    assert graph.members(parent) == [approvers["descriptor"]]
    cycle = graph.call("add_membership", subjectDescriptor=parent["descriptor"],
                       containerDescriptor=approvers["descriptor"])
    assert error_key(cycle) == (400, "AddMemberCyclicMembershipException")

    assert graph.call("delete_group", groupDescriptor=approvers["descriptor"]).status_code == 204
    assert graph.ok("get_group", groupDescriptor=approvers["descriptor"]) == approvers
    names = {g["displayName"] for g in graph.ok("list_groups", query={"scopeDescriptor": scope})["value"]}
    assert "Ticketpilot Approvers" not in names and "Ticketpilot People" in names
    assert graph.members(parent) == [] and graph.ok("list_memberships", subjectDescriptor=ada["descriptor"])[
        "count"] == 0
    assert graph.call("add_membership", subjectDescriptor=ada["descriptor"],
                      containerDescriptor=approvers["descriptor"]).status_code == 404
    assert graph.call("delete_group", groupDescriptor=approvers["descriptor"]).status_code == 404
    again = graph.group(scope, "Ticketpilot Approvers")
    assert again["descriptor"] != approvers["descriptor"]


def test_version_credentials_and_links(graph: Graph) -> None:
    """Graph resources are preview (a plain 7.1 is refused), need credentials and an api-version, and the links
    in answers (spelled `_apis/Graph/Groups/...` as ADO spells them) lead back to the resource."""
    scope = graph.scope(graph.new_project("Team Alpha"))
    group = graph.group(scope, "Ticketpilot Approvers")
    org = f"{graph.emulator.url}/{graph.emulator.state.org}/_apis/graph"
    assert error_key(httpx.get(f"{org}/groups?api-version=7.1", auth=("", "pat"))) == (
        400, "VssInvalidPreviewVersionException")
    assert error_key(httpx.get(f"{org}/users", auth=("", "pat"))) == (400, "VssVersionNotSpecifiedException")
    assert httpx.get(f"{org}/users?api-version={VERSION}").status_code == 401
    assert httpx.post(f"{graph.emulator.url}/_emulator/users", json={}).status_code == 400
    assert "/_apis/Graph/Groups/" in group["url"]
    assert graph.http.get(group["url"], params={"api-version": VERSION}).json() == group
    assert graph.http.get(group["_links"]["memberships"]["href"],
                          params={"api-version": VERSION, "direction": "down"}).json() == {"count": 0, "value": []}
    created = graph.call("create_group", {"displayName": "Ticketpilot Reviewers"}, query={"scopeDescriptor": scope})
    assert created.headers["Location"] == created.json()["url"]


def test_a_group_without_a_scope_belongs_to_the_organisation(graph: Graph) -> None:
    scope = graph.scope(graph.new_project("Team Alpha"))
    org = graph.emulator.state.org
    everyone = graph.ok("create_group", {"displayName": "Ticketpilot Everyone"})
    assert everyone["principalName"] == f"[{org}]\\Ticketpilot Everyone"
    assert everyone["domain"].startswith("vstfs:///Framework/IdentityDomain/")
    listed = graph.ok("list_groups")["value"]
    assert {"[Team Alpha]\\Contributors", f"[{org}]\\Ticketpilot Everyone"} <= {g["principalName"] for g in listed}
    in_project = graph.ok("list_groups", query={"scopeDescriptor": scope})["value"]
    assert everyone["descriptor"] not in {g["descriptor"] for g in in_project}
    # The same name in a project's scope is another group; in the organisation's it is taken.
    assert graph.group(scope, "Ticketpilot Everyone")["descriptor"] != everyone["descriptor"]
    assert error_key(graph.call("create_group", {"displayName": "ticketpilot everyone"})) == (
        409, "GroupCreationException")
    joined = graph.ok("create_group", {"displayName": "Ticketpilot Leads"},
                      query={"scopeDescriptor": scope, "groupDescriptors": everyone["descriptor"]})
    assert graph.members(everyone) == [joined["descriptor"]], "groupDescriptors makes the new group a member"
