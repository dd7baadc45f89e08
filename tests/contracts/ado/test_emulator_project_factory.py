"""The emulator's Project Factory endpoints held to Microsoft's published 7.1 specs (tests/emulators/ado/specs/,
git and pipelines from tests/fixtures/ado-openapi/): every request body the tests send validates against the
operation's body schema, every answer against its response schema, answers use only declared top-level
fields, statuses are the documented ones (spec or recorded example), and the top-level keys match the recorded
examples. Then the behaviour a create-or-update client relies on: listings find what was created, updates
happen in place, duplicates are refused, secrets are never echoed, and a subscription made through the REST
API delivers a new project's work items with its Basic credentials."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.emulators.ado.server import EmulatorServer
from tests.emulators.ado.service_hooks import EVENT_TYPES, PUBLISHED_EVENT_TYPES
from tests.emulators.ado.wiki import etag

TESTS = Path(__file__).resolve().parents[2]
SPECS = TESTS / "emulators" / "ado" / "specs"
SPEC_FILES = {
    "core": SPECS / "core" / "core.json",
    "operations": SPECS / "operations" / "operations.json",
    "policy": SPECS / "policy" / "policy.json",
    "wiki": SPECS / "wiki" / "wiki.json",
    "hooks": SPECS / "hooks" / "serviceHooks.json",
    "git": TESTS / "fixtures" / "ado-openapi" / "git" / "git.json",
    "pipelines": TESTS / "fixtures" / "ado-openapi" / "pipelines" / "pipelines.json",
}
ORG = "/{organization}/_apis"
PRJ = "/{organization}/{project}/_apis"
MIN_REVIEWERS = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
BUILD = "0609b952-1397-4640-95ec-e00a01b2c241"
FACTORY_EVENTS = {"workitem.created", "workitem.updated", "git.pullrequest.created", "git.pullrequest.updated",
                  "build.complete"}


@dataclass(frozen=True)
class Op:
    spec: str
    method: str
    path: str  # the spec's path template
    version: str  # the api-version the spec names
    status: int  # what the emulator answers; test_statuses_are_documented checks the spec or an example says so
    example: str | None = None  # a recorded example under SPECS, for the top-level keys


POLICY = PRJ + "/policy/configurations/{configurationId}"
SUBSCRIPTION = ORG + "/hooks/subscriptions/{subscriptionId}"
PAGES = PRJ + "/wiki/wikis/{wikiIdentifier}/pages"
OPS: dict[str, Op] = {
    "create_project": Op("core", "POST", ORG + "/projects", "7.1-preview.4", 202,
                         "core/httpExamples/projects/POST__projects.json"),
    "get_operation": Op("operations", "GET", ORG + "/operations/{operationId}", "7.1-preview.1", 200,
                        "operations/httpExamples/operations/GET__operations__operationId_.json"),
    "list_projects": Op("core", "GET", ORG + "/projects", "7.1-preview.4", 200),
    "get_project": Op("core", "GET", ORG + "/projects/{projectId}", "7.1-preview.4", 200),
    "list_repositories": Op("git", "GET", PRJ + "/git/repositories", "7.1", 200,
                            "git/httpExamples/repositories/GET__git_repositories.json"),
    "create_repository": Op("git", "POST", PRJ + "/git/repositories", "7.1", 201,
                            "git/httpExamples/repositories/POST__git_repositories.json"),
    "update_repository": Op("git", "PATCH", PRJ + "/git/repositories/{repositoryId}", "7.1", 200,
                            "git/httpExamples/repositories/PATCH__git_repositories__repositoryId_.json"),
    "list_policy_types": Op("policy", "GET", PRJ + "/policy/types", "7.1-preview.1", 200,
                            "policy/httpExamples/types/GET__policy_types.json"),
    "create_policy": Op("policy", "POST", PRJ + "/policy/configurations", "7.1-preview.1", 200,
                        "policy/httpExamples/configurations/POST__policy_configurations2.json"),
    "create_build_policy": Op("policy", "POST", PRJ + "/policy/configurations", "7.1-preview.1", 200,
                              "policy/httpExamples/configurations/POST__policy_configurations3.json"),
    "list_policies": Op("policy", "GET", PRJ + "/policy/configurations", "7.1-preview.1", 200),
    "get_policy": Op("policy", "GET", POLICY, "7.1-preview.1", 200),
    "update_policy": Op("policy", "PUT", POLICY, "7.1-preview.1", 200,
                        "policy/httpExamples/configurations/PUT__policy_configurations__configurationId_.json"),
    "delete_policy": Op("policy", "DELETE", POLICY, "7.1-preview.1", 204),
    "create_pipeline": Op("pipelines", "POST", PRJ + "/pipelines", "7.1", 200),
    "list_pipelines": Op("pipelines", "GET", PRJ + "/pipelines", "7.1", 200),
    "get_pipeline": Op("pipelines", "GET", PRJ + "/pipelines/{pipelineId}", "7.1", 200),
    "run_pipeline": Op("pipelines", "POST", PRJ + "/pipelines/{pipelineId}/runs", "7.1", 200),
    "get_run": Op("pipelines", "GET", PRJ + "/pipelines/{pipelineId}/runs/{runId}", "7.1", 200),
    "create_subscription": Op("hooks", "POST", ORG + "/hooks/subscriptions", "7.1", 200,
                              "hooks/httpExamples/subscriptions/POST__hooks_subscriptions.json"),
    "list_subscriptions": Op("hooks", "GET", ORG + "/hooks/subscriptions", "7.1", 200,
                             "hooks/httpExamples/subscriptions/GET__hooks_subscriptions_.json"),
    "get_subscription": Op("hooks", "GET", SUBSCRIPTION, "7.1", 200,
                           "hooks/httpExamples/subscriptions/GET__hooks_subscriptions__subscriptionId_.json"),
    "replace_subscription": Op("hooks", "PUT", SUBSCRIPTION, "7.1", 200,
                               "hooks/httpExamples/subscriptions/PUT__hooks_subscriptions__newSubscriptionId_.json"),
    "delete_subscription": Op("hooks", "DELETE", SUBSCRIPTION, "7.1", 204,
                              "hooks/httpExamples/subscriptions/DELETE__hooks_subscriptions__newSubscriptionId_.json"),
    "create_wiki": Op("wiki", "POST", PRJ + "/wiki/wikis", "7.1-preview.2", 201,
                      "wiki/httpExamples/wikis/POST_wiki_type_project.json"),
    "list_wikis": Op("wiki", "GET", PRJ + "/wiki/wikis", "7.1-preview.2", 200),
    "create_page": Op("wiki", "PUT", PAGES, "7.1-preview.1", 201, "wiki/httpExamples/pages/PUT_wiki_page_add.json"),
    "edit_page": Op("wiki", "PUT", PAGES, "7.1-preview.1", 200, "wiki/httpExamples/pages/PUT_wiki_page_edit.json"),
    "get_page": Op("wiki", "GET", PAGES, "7.1-preview.1", 200,
                   "wiki/httpExamples/pages/GET_wiki_page_JSON_withContent.json"),
}
# Top-level keys where an answer and its recorded example (older api-versions, other objects) may differ.
KEY_ALLOWANCES: dict[str, dict[str, str]] = {
    "list_repositories": {"defaultBranch": "the example's first repository is empty, ours holds a commit",
                          "isDisabled": "declared by 7.1 GitRepository; the 1.0 example predates it",
                          "isInMaintenance": "as isDisabled", "webUrl": "as isDisabled"},
    "create_repository": {"isDisabled": "declared by 7.1 GitRepository; the 1.0 example predates it",
                          "isInMaintenance": "as isDisabled", "webUrl": "as isDisabled"},
    "update_repository": {"type": "not a GitRepository field in the 7.1 schema",
                          "isInMaintenance": "declared by 7.1 GitRepository; the 1.0 example predates it",
                          "webUrl": "as isInMaintenance"},
    "create_policy": {"isDeleted": "the PUT example carries it; the POST examples were recorded without"},
    "create_build_policy": {"isDeleted": "as create_policy"},
    "create_subscription": {"status": "declared by Subscription; the 1.0 example omits it for enabled ones"},
    "list_subscriptions": {"status": "as create_subscription"},
    "get_subscription": {"status": "as create_subscription"},
    "replace_subscription": {"status": "as create_subscription"},
    "create_page": {"id": "the 7.1 edit example carries the page id", "isParentPage": "as in the edit example"},
    "get_page": {"isParentPage": "as in the edit example"},
}


@cache
def spec(name: str) -> dict[str, Any]:
    return json.loads(SPEC_FILES[name].read_text(encoding="utf-8-sig"))


@cache
def registry() -> Registry:
    resources = [(f"urn:ado:{n}", Resource.from_contents(spec(n), default_specification=DRAFT4)) for n in SPEC_FILES]
    return Registry().with_resources(resources)


@cache
def example(relative: str) -> dict[str, Any]:
    return json.loads((SPECS / relative).read_text(encoding="utf-8-sig"))


def operation(op: Op) -> dict[str, Any]:
    return spec(op.spec)["paths"][op.path][op.method.lower()]


def documented(op: Op) -> set[int]:
    statuses = {int(code) for code in operation(op)["responses"]}
    if op.example:
        statuses |= {int(code) for code in example(op.example)["responses"]}
    return statuses


def response_schema(op: Op) -> dict[str, Any] | None:
    responses = operation(op)["responses"]
    return (responses.get(str(op.status)) or responses.get("200") or {}).get("schema")


def request_schema(op: Op) -> dict[str, Any]:
    (param,) = [p for p in operation(op)["parameters"] if p.get("in") == "body"]
    return param["schema"]


def declared(spec_name: str, schema: dict[str, Any]) -> set[str]:
    """Every property a schema declares, through $ref and allOf."""
    if "$ref" in schema:
        return declared(spec_name, spec(spec_name)["definitions"][schema["$ref"].split("/")[-1]])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= declared(spec_name, part)
    return names


def pruned(value: Any) -> Any:
    """Nulls dropped: Swagger 2.0 cannot declare them, and ADO sends null for absent references."""
    if isinstance(value, dict):
        return {k: pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def schema_errors(spec_name: str, schema: dict[str, Any], value: Any) -> list[str]:
    validator = Draft4Validator({"$ref": f"urn:ado:{spec_name}{schema['$ref']}"}, registry=registry())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(pruned(value))]


def assert_conforms(name: str, status: int, body: Any, *, nonempty: bool = False) -> None:
    """The answer has the operation's status and, for a body, the spec's shape (lists in ADO's envelope, with
    at least one item when `nonempty`, so that there is something to check)."""
    op = OPS[name]
    assert status == op.status, body
    schema = response_schema(op)
    if op.status == 204 or schema is None:
        assert body is None, body
        return
    if schema.get("type") == "array":
        assert set(body) == {"value", "count"} and body["count"] == len(body["value"]) >= nonempty, body
        schema, objects = schema["items"], body["value"]
    else:
        objects = [body]
    for obj in objects:
        assert not schema_errors(op.spec, schema, obj), schema_errors(op.spec, schema, obj)
        undeclared = set(obj) - declared(op.spec, schema)
        assert not undeclared, f"{name}: fields the schema does not declare: {undeclared}"


class Api:
    """The emulator's REST API by spec operation: request bodies are checked against the spec before they are
    sent, successful answers after; the first success of each operation is kept for the parametrized tests."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.http = httpx.Client(base_url=emulator.url, auth=("", "pat"), timeout=10)
        self.answers: dict[str, tuple[int, Any]] = {}

    def call(self, name: str, body: Any = None, query: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        op = OPS[name]
        values = {"organization": self.emulator.state.org} | params
        path = op.path.format(**{k: quote(str(v), safe="") for k, v in values.items()})
        if body is not None:
            errors = schema_errors(op.spec, request_schema(op), body)
            assert not errors, f"{name}: the request body does not fit the spec: {errors}"
        response = self.http.request(op.method, path, params={"api-version": op.version, **(query or {})},
                                     json=body, headers=headers)
        if response.is_success:
            answer = response.json() if response.content else None
            assert_conforms(name, response.status_code, answer)
            self.answers.setdefault(name, (response.status_code, answer))
        return response

    def ok(self, name: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.call(name, body, **kwargs)
        assert response.is_success, response.text
        return response.json() if response.content else None

    def new_project(self, name: str) -> dict[str, Any]:
        """Create a project and poll its operation to the end, as a client must; returns the TeamProject."""
        queued = self.ok("create_project", {
            "name": name, "description": f"{name} (Project Factory)", "visibility": "private",
            "capabilities": {"versioncontrol": {"sourceControlType": "Git"},
                             "processTemplate": {"templateTypeId": "adcc42ab-9882-485e-a3ed-7678f01f66bc"}}})
        statuses = [self.ok("get_operation", operationId=queued["id"])["status"] for _ in range(2)]
        assert statuses == ["inProgress", "succeeded"]
        return self.ok("get_project", projectId=name)

    def push(self, project: str, repo: str, files: dict[str, str], branch: str = "refs/heads/main") -> str:
        changes = [{"changeType": "add", "item": {"path": f"/{p}"},
                    "newContent": {"content": c, "contentType": "rawtext"}} for p, c in files.items()]
        pushes = f"/{self.emulator.state.org}/{quote(project)}/_apis/git/repositories/{repo}/pushes"
        response = self.http.post(pushes, params={"api-version": "7.1"},
                                  json={"refUpdates": [{"name": branch, "oldObjectId": "0" * 40}],
                                        "commits": [{"comment": "Initial commit", "changes": changes}]})
        assert response.status_code == 201, response.text
        return response.json()["refUpdates"][0]["newObjectId"]


def error_key(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["typeKey"]


def min_reviewers(repo_id: str | None, count: int = 1) -> dict[str, Any]:
    return {"isEnabled": True, "isBlocking": True, "type": {"id": MIN_REVIEWERS},
            "settings": {"minimumApproverCount": count, "creatorVoteCounts": False,
                         "scope": [{"repositoryId": repo_id, "refName": "refs/heads/main", "matchKind": "exact"}]}}


def build_validation(repo_id: str, pipeline_id: int) -> dict[str, Any]:
    return {"isEnabled": True, "isBlocking": True, "type": {"id": BUILD},
            "settings": {"buildDefinitionId": pipeline_id, "queueOnSourceUpdateOnly": True, "validDuration": 720,
                         "scope": [{"repositoryId": repo_id, "refName": "refs/heads/main", "matchKind": "Exact"}]}}


def web_hook(url: str, event_type: str, project_id: str, password: str = "hook-secret") -> dict[str, Any]:
    return {"publisherId": "tfs", "eventType": event_type, "resourceVersion": "1.0", "consumerId": "webHooks",
            "consumerActionId": "httpRequest", "publisherInputs": {"projectId": project_id},
            "consumerInputs": {"url": url, "basicAuthUsername": "ticketpilot", "basicAuthPassword": password,
                               "httpHeaders": "X-Ticketpilot-Tenant: team-alpha"}}


def yaml_pipeline(name: str, repo_id: str) -> dict[str, Any]:
    return {"name": name, "folder": "\\", "configuration": {
        "type": "yaml", "path": "/azure-pipelines.yml", "repository": {"id": repo_id, "type": "azureReposGit"}}}


class Receiver(ThreadingHTTPServer):
    """A Web Hooks consumer that records each delivery's headers and body and answers 200."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/ado"

    def wait_for(self, count: int, timeout: float = 5) -> list[tuple[dict[str, str], dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(ado_emulator: EmulatorServer) -> Iterator[Api]:
    client = Api(ado_emulator)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def answers(ado_server: EmulatorServer) -> dict[str, tuple[int, Any]]:
    """One Project Factory run over every operation, on a fresh emulator; the first answer of each is kept."""
    ado_server.reset()
    api = Api(ado_server)
    project = api.new_project("Team Alpha")
    api.ok("list_projects")
    api.ok("get_project", projectId=project["id"], query={"includeCapabilities": "true"})
    api.ok("list_repositories", project=project["id"])
    repo = api.ok("create_repository", {"name": "alpha-service", "project": {"id": project["id"]}},
                  project="Team Alpha")
    api.push("Team Alpha", repo["id"], {"README.md": "# alpha-service\n", "azure-pipelines.yml": "steps: []\n"})
    api.ok("update_repository", {"defaultBranch": "refs/heads/main"}, project="Team Alpha", repositoryId=repo["id"])
    pipeline = api.ok("create_pipeline", yaml_pipeline("alpha-service-ci", repo["id"]), project="Team Alpha")
    api.ok("list_pipelines", project="Team Alpha")
    api.ok("get_pipeline", project="Team Alpha", pipelineId=pipeline["id"])
    run = api.ok("run_pipeline", {"resources": {"repositories": {"self": {"refName": "refs/heads/main"}}}},
                 project="Team Alpha", pipelineId=pipeline["id"])
    api.ok("get_run", project="Team Alpha", pipelineId=pipeline["id"], runId=run["id"])
    api.ok("list_policy_types", project="Team Alpha")
    reviewers = api.ok("create_policy", min_reviewers(repo["id"]), project="Team Alpha")
    build = api.ok("create_build_policy", build_validation(repo["id"], pipeline["id"]), project="Team Alpha")
    api.ok("list_policies", project="Team Alpha")
    api.ok("get_policy", project="Team Alpha", configurationId=reviewers["id"])
    api.ok("update_policy", min_reviewers(repo["id"], 2), project="Team Alpha", configurationId=reviewers["id"])
    api.ok("delete_policy", project="Team Alpha", configurationId=build["id"])
    subscription = api.ok("create_subscription", web_hook("https://ingress.example.test/hooks/ado",
                                                          "git.pullrequest.updated", project["id"]))
    api.ok("list_subscriptions", query={"consumerId": "webHooks"})
    api.ok("get_subscription", subscriptionId=subscription["id"])
    api.ok("replace_subscription", subscription | {"eventType": "build.complete"}, subscriptionId=subscription["id"])
    api.ok("delete_subscription", subscriptionId=subscription["id"])
    wiki = api.ok("create_wiki", {"name": "Team Alpha.wiki", "projectId": project["id"], "type": "projectWiki"},
                  project="Team Alpha")
    api.ok("list_wikis", project="Team Alpha")
    created = api.call("create_page", {"content": "# Welcome\n"}, query={"path": "/Onboarding"},
                       project="Team Alpha", wikiIdentifier=wiki["id"])
    api.ok("get_page", query={"path": "/Onboarding", "includeContent": "true"}, project="Team Alpha",
           wikiIdentifier=wiki["name"])
    api.ok("edit_page", {"content": "# Welcome, team\n"}, query={"path": "/Onboarding"},
           headers={"If-Match": created.headers["ETag"]}, project="Team Alpha", wikiIdentifier=wiki["id"])
    api.http.close()
    return api.answers


@pytest.mark.parametrize("name", sorted(OPS))
def test_answer_matches_the_response_schema(name: str, answers: dict[str, tuple[int, Any]]) -> None:
    assert name in answers, f"the Project Factory run never got a successful {name}"
    assert_conforms(name, *answers[name], nonempty=True)


@pytest.mark.parametrize("name", sorted(OPS))
def test_statuses_are_documented(name: str) -> None:
    """Each status the emulator answers is the spec's, or the recorded example's where they differ."""
    op = OPS[name]
    assert op.status in documented(op), f"{name}: {op.status} is in neither the spec nor its example"
    override = operation(op).get("x-ms-docs-override-version")
    assert override in (None, op.version), f"{name}: the spec names api-version {override}"


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.example))
def test_top_level_keys_match_the_recorded_example(name: str, answers: dict[str, tuple[int, Any]]) -> None:
    (recorded,) = [r.get("body") for r in example(str(OPS[name].example))["responses"].values()]
    _, body = answers[name]
    if recorded is None:
        assert body is None
        return
    if "value" in recorded:
        recorded, body = recorded["value"][-1], body["value"][0]
    unexplained = (set(recorded) ^ set(body)) - set(KEY_ALLOWANCES.get(name, {}))
    assert not unexplained, f"emulator-only: {set(body) - set(recorded)}, example-only: {set(recorded) - set(body)}"


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.example))
def test_recorded_examples_match_the_schemas(name: str) -> None:
    """The schemas accept what the real service sent and was sent, so they judge the emulator fairly."""
    op = OPS[name]
    recorded = example(str(op.example))
    body = recorded["parameters"].get("body")
    if body is not None:
        assert not schema_errors(op.spec, request_schema(op), body)
    (answer,) = [r.get("body") for r in recorded["responses"].values()]
    schema = response_schema(op)
    if answer is not None and schema is not None:
        if schema.get("type") == "array":
            schema, answer = schema["items"], answer["value"][0]
        assert not schema_errors(op.spec, schema, answer)


def test_project_creation_is_polled_and_a_taken_name_is_refused(api: Api) -> None:
    queued = api.ok("create_project", {"name": "Team Beta", "capabilities": {
        "versioncontrol": {"sourceControlType": "Git"},
        "processTemplate": {"templateTypeId": "adcc42ab-9882-485e-a3ed-7678f01f66bc"}}})
    assert queued["status"] == "queued" and queued["url"].endswith(f"/_apis/operations/{queued['id']}")
    names = [p["name"] for p in api.ok("list_projects")["value"]]
    assert "Team Beta" not in names, "listed (stateFilter wellFormed) before its operation succeeded"
    assert "Team Beta" in [p["name"] for p in api.ok("list_projects", query={"stateFilter": "all"})["value"]]
    assert api.ok("get_operation", operationId=queued["id"])["status"] == "inProgress"
    assert api.ok("get_operation", operationId=queued["id"])["status"] == "succeeded"
    listed = {p["name"]: p for p in api.ok("list_projects")["value"]}
    assert listed["Team Beta"]["state"] == "wellFormed" and set(listed) == {"proj", "Team Beta"}
    by_id = api.ok("get_project", projectId=listed["Team Beta"]["id"], query={"includeCapabilities": "true"})
    assert by_id["capabilities"]["versioncontrol"] == {"sourceControlType": "Git"}
    assert by_id["defaultTeam"]["name"] == "Team Beta Team"
    assert api.ok("get_project", projectId="team beta")["id"] == by_id["id"], "names are case-insensitive"
    (default_repo,) = api.ok("list_repositories", project=by_id["id"])["value"]
    assert default_repo["name"] == "Team Beta" and default_repo["project"]["id"] == by_id["id"]
    assert "defaultBranch" not in default_repo, "an empty repository has no default branch yet"

    again = api.call("create_project", {"name": "TEAM BETA"})
    assert error_key(again) == (409, "ProjectAlreadyExistsException") and "TF200019" in again.json()["message"]
    assert error_key(api.call("get_project", projectId="Team Gamma")) == (404, "ProjectDoesNotExistWithNameException")
    assert error_key(api.call("get_operation", operationId="9b1c7e0e-0000-4000-8000-000000000000"))[0] == 404


def test_api_version_credentials_and_project_are_checked(api: Api) -> None:
    org = f"{api.emulator.url}/{api.emulator.state.org}"
    missing = httpx.get(f"{org}/_apis/projects", auth=("", "pat"))
    assert error_key(missing) == (400, "VssVersionNotSpecifiedException")
    assert httpx.get(f"{org}/_apis/hooks/subscriptions?api-version=7.1").status_code == 401
    for path in ("_apis/projects", "_apis/operations/x", "proj/_apis/policy/types", "proj/_apis/wiki/wikis"):
        plain = httpx.get(f"{org}/{path}?api-version=7.1", auth=("", "pat"))
        assert error_key(plain) == (400, "VssInvalidPreviewVersionException"), path
    assert httpx.get(f"{org}/proj/_apis/git/repositories?api-version=7.1", auth=("", "pat")).status_code == 200
    unknown = httpx.get(f"{org}/nowhere/_apis/git/repositories?api-version=7.1", auth=("", "pat"))
    assert error_key(unknown) == (404, "ProjectDoesNotExistWithNameException")


def test_repositories_of_a_new_project_serve_the_git_routes(api: Api) -> None:
    project = api.new_project("Team Alpha")
    repo = api.ok("create_repository", {"name": "alpha-api"}, project="Team Alpha")
    assert error_key(api.call("create_repository", {"name": "ALPHA-API"}, project="Team Alpha")) == (
        409, "GitRepositoryNameAlreadyExistsException")
    assert repo["project"]["id"] == project["id"]
    assert repo["remoteUrl"].endswith("/org/Team%20Alpha/_git/alpha-api")
    main = api.push("Team Alpha", repo["id"], {"README.md": "# alpha-api\n"})
    renamed = api.ok("update_repository", {"name": "alpha-core", "defaultBranch": "refs/heads/main"},
                     project=project["id"], repositoryId=repo["id"])
    assert (renamed["id"], renamed["name"], renamed["defaultBranch"]) == (repo["id"], "alpha-core", "refs/heads/main")
    listed = {r["name"]: r for r in api.ok("list_repositories", project="Team Alpha")["value"]}
    assert set(listed) == {"Team Alpha", "alpha-core"} and listed["alpha-core"]["id"] == repo["id"]
    bad = api.call("update_repository", {"defaultBranch": "main"}, project="Team Alpha", repositoryId=repo["id"])
    assert bad.status_code == 400

    base = f"/{api.emulator.state.org}/Team%20Alpha/_apis/git/repositories/alpha-core"
    v = {"api-version": "7.1"}
    branch = api.http.post(f"{base}/refs", params=v, json=[
        {"name": "refs/heads/feature/docs", "oldObjectId": "0" * 40, "newObjectId": main}])
    assert branch.json()["value"][0]["success"]
    item = api.http.get(f"{base}/items", params=v | {"path": "README.md", "includeContent": "true"})
    assert item.json()["content"] == "# alpha-api\n"
    pr = api.http.post(f"{base}/pullrequests", params=v, json={
        "sourceRefName": "refs/heads/feature/docs", "targetRefName": "refs/heads/main", "title": "Docs"})
    assert pr.status_code == 201 and pr.json()["repository"]["project"]["id"] == project["id"]
    in_project = api.http.get(f"/{api.emulator.state.org}/Team%20Alpha/_apis/git/pullrequests", params=v).json()
    in_default = api.http.get(f"/{api.emulator.state.org}/proj/_apis/git/pullrequests", params=v).json()
    assert (in_project["count"], in_default["count"]) == (1, 0)
    header = "Authorization: Basic " + base64.b64encode(b":pat").decode()
    heads = subprocess.run(["git", "-c", f"http.extraHeader={header}", "ls-remote", renamed["remoteUrl"]],
                           capture_output=True, text=True, timeout=30, check=True).stdout
    assert f"{main}\trefs/heads/main" in heads

    seeded = api.emulator.seed_repo("app", {"README.md": "hello\n"})  # the default project as before
    refs = api.http.get(f"/{api.emulator.state.org}/proj/_apis/git/repositories/app/refs", params=v).json()
    assert [r["objectId"] for r in refs["value"]] == [seeded]
    assert api.http.get(f"{base.replace('Team%20Alpha', 'proj')}/refs", params=v).status_code == 404


def test_branch_policies_are_updated_in_place(api: Api) -> None:
    api.new_project("Team Alpha")
    (repo,) = api.ok("list_repositories", project="Team Alpha")["value"]
    types = {t["id"]: t["displayName"] for t in api.ok("list_policy_types", project="Team Alpha")["value"]}
    assert {MIN_REVIEWERS, BUILD} <= set(types)
    reviewers = api.ok("create_policy", min_reviewers(repo["id"]), project="Team Alpha")
    build = api.ok("create_build_policy", build_validation(repo["id"], 42), project="Team Alpha")
    assert reviewers["revision"] == 1 and reviewers["settings"]["scope"][0]["matchKind"] == "Exact"
    updated = api.ok("update_policy", min_reviewers(repo["id"], 2), project="Team Alpha",
                     configurationId=reviewers["id"])
    assert (updated["id"], updated["revision"], updated["settings"]["minimumApproverCount"]) == (reviewers["id"], 2, 2)
    assert updated["createdDate"] == reviewers["createdDate"]
    listed = api.ok("list_policies", project="Team Alpha")["value"]
    assert sorted(p["id"] for p in listed) == sorted([reviewers["id"], build["id"]])
    only_build = api.ok("list_policies", project="Team Alpha", query={"policyType": BUILD})["value"]
    assert [p["settings"]["buildDefinitionId"] for p in only_build] == [42]
    assert api.call("list_policies", project="proj").json()["count"] == 0, "policies belong to their project"
    api.ok("delete_policy", project="Team Alpha", configurationId=build["id"])
    assert error_key(api.call("get_policy", project="Team Alpha", configurationId=build["id"])) == (
        404, "PolicyConfigurationNotFoundException")
    elsewhere = min_reviewers("5febef5a-833d-4e14-b9c0-14cb638f91e6")
    assert error_key(api.call("create_policy", elsewhere, project="Team Alpha"))[0] == 404
    assert api.call("create_policy", min_reviewers(repo["id"], 0), project="Team Alpha").status_code == 400


def test_a_created_pipeline_runs_like_a_defined_one(api: Api) -> None:
    api.new_project("Team Alpha")
    (repo,) = api.ok("list_repositories", project="Team Alpha")["value"]
    main = api.push("Team Alpha", repo["id"], {"azure-pipelines.yml": "steps: []\n"})
    pipeline = api.ok("create_pipeline", yaml_pipeline("alpha-ci", repo["id"]), project="Team Alpha")
    assert pipeline["configuration"] == {"path": "/azure-pipelines.yml", "type": "yaml",
                                         "repository": {"id": repo["id"], "type": "azureReposGit"}}
    assert [p["id"] for p in api.ok("list_pipelines", project="Team Alpha")["value"]] == [pipeline["id"]]
    assert api.call("create_pipeline", yaml_pipeline("ALPHA-CI", repo["id"]), project="Team Alpha").status_code == 409
    assert api.call("get_pipeline", project="proj", pipelineId=pipeline["id"]).status_code == 404
    run = api.ok("run_pipeline", {"resources": {"repositories": {"self": {"refName": "refs/heads/main"}}}},
                 project="Team Alpha", pipelineId=pipeline["id"])
    assert run["pipeline"]["name"] == "alpha-ci" and run["state"] == "inProgress"
    deadline = time.monotonic() + 5
    while (got := api.ok("get_run", project="Team Alpha", pipelineId=pipeline["id"], runId=run["id"]))[
            "state"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (got["state"], got["result"]) == ("completed", "succeeded")
    builds = api.http.get(f"/{api.emulator.state.org}/Team%20Alpha/_apis/build/builds",
                          params={"api-version": "7.1", "definitions": str(pipeline["id"])}).json()["value"]
    assert [(b["definition"]["name"], b["sourceVersion"]) for b in builds] == [("alpha-ci", main)]
    missing = api.call("run_pipeline", {"resources": {"repositories": {"self": {"refName": "refs/heads/nope"}}}},
                       project="Team Alpha", pipelineId=pipeline["id"])
    assert missing.status_code == 400


def test_subscription_secrets_are_masked_and_kept(api: Api, receiver: Receiver) -> None:
    project = api.new_project("Team Alpha")
    created = api.ok("create_subscription", web_hook(receiver.url, "workitem.updated", project["id"]))
    fetched = api.ok("get_subscription", subscriptionId=created["id"])
    listed = api.ok("list_subscriptions", query={"eventType": "workitem.updated"})["value"]
    for answer in (created, fetched, *listed):
        assert answer["consumerInputs"]["basicAuthPassword"] == "********"
        assert answer["consumerInputs"]["basicAuthUsername"] == "ticketpilot"
    assert "hook-secret" not in json.dumps([created, fetched, listed])
    assert api.ok("list_subscriptions", query={"eventType": "build.complete"})["count"] == 0
    # A client that round-trips what it read sends the mask back: the stored password stays.
    replaced = api.ok("replace_subscription", fetched | {"eventType": "workitem.created"},
                      subscriptionId=created["id"])
    assert (replaced["id"], replaced["createdDate"]) == (created["id"], created["createdDate"])
    api.emulator.seed_work_item({"System.Title": "after replace"}, project["id"])
    ((headers, body),) = receiver.wait_for(1)
    assert headers["authorization"] == "Basic " + base64.b64encode(b"ticketpilot:hook-secret").decode()
    assert headers["x-ticketpilot-tenant"] == "team-alpha" and body["subscriptionId"] == created["id"]
    api.ok("delete_subscription", subscriptionId=created["id"])
    assert error_key(api.call("get_subscription", subscriptionId=created["id"])) == (
        404, "SubscriptionNotFoundException")
    api.emulator.seed_work_item({"System.Title": "after delete"}, project["id"])
    time.sleep(0.3)
    assert len(receiver.received) == 1
    unknown_event = web_hook(receiver.url, "git.pullrequest.exploded", project["id"])
    assert api.call("create_subscription", unknown_event).status_code == 400
    assert api.call("create_subscription", web_hook(receiver.url, "workitem.created", "Team Alpha")).status_code == 400


def test_a_rest_subscription_delivers_the_new_projects_work_items(api: Api, receiver: Receiver) -> None:
    """End to end: a new project, a Web Hooks subscription to it with Basic credentials through the REST API,
    then a work item in that project reaches the receiver with those credentials; one elsewhere does not."""
    project = api.new_project("Team Alpha")
    api.ok("create_subscription", web_hook(receiver.url, "workitem.created", project["id"], password="s3cr3t"))
    api.emulator.seed_work_item({"System.Title": "In the default project"})
    item = api.emulator.seed_work_item({"System.Title": "Onboard the team"}, "Team Alpha")
    ((headers, delivered),) = receiver.wait_for(1)
    time.sleep(0.2)
    assert len(receiver.received) == 1, "the default project's work item was delivered too"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"ticketpilot:s3cr3t").decode()
    assert delivered["eventType"] == "workitem.created" and delivered["publisherId"] == "tfs"
    assert delivered["resource"]["id"] == item["id"]
    assert delivered["resource"]["fields"]["System.TeamProject"] == "Team Alpha"
    assert delivered["resourceContainers"]["project"]["id"] == project["id"]
    assert [d["outcome"] for d in api.emulator.deliveries()] == ["delivered"]


def test_wiki_pages_need_the_current_etag_to_change(api: Api) -> None:
    project = api.new_project("Team Alpha")
    wiki = api.ok("create_wiki", {"name": "Team Alpha.wiki", "projectId": project["id"], "type": "projectWiki"},
                  project="Team Alpha")
    assert wiki["versions"] == [{"version": "wikiMaster"}] and wiki["projectId"] == project["id"]
    assert [w["id"] for w in api.ok("list_wikis", project="Team Alpha")["value"]] == [wiki["id"]]
    assert error_key(api.call("create_wiki", {"type": "projectWiki"}, project="Team Alpha")) == (
        409, "WikiAlreadyExistsException")
    page = {"project": "Team Alpha", "wikiIdentifier": wiki["name"]}
    created = api.call("create_page", {"content": "# Welcome\n"}, query={"path": "Onboarding"}, **page)
    assert created.headers["ETag"] == f'"{etag("# Welcome" + chr(10))}"'
    assert (created.json()["path"], created.json()["gitItemPath"]) == ("/Onboarding", "/Onboarding.md")
    read = api.call("get_page", query={"path": "/Onboarding", "includeContent": "true"}, **page)
    assert read.json()["content"] == "# Welcome\n" and read.headers["ETag"] == created.headers["ETag"]
    assert "content" not in api.ok("get_page", query={"path": "/Onboarding"}, **page)

    again = api.call("edit_page", {"content": "# Hi\n"}, query={"path": "/Onboarding"}, **page)
    assert error_key(again) == (500, "WikiPageAlreadyExistsException"), "ADO's answer to an edit without If-Match"
    stale = api.call("edit_page", {"content": "# Hi\n"}, query={"path": "/Onboarding"},
                     headers={"If-Match": f'"{etag("something else")}"'}, **page)
    assert error_key(stale) == (412, "WikiPageHasConflictsException")
    edited = api.call("edit_page", {"content": "# Hi\n"}, query={"path": "/Onboarding"},
                      headers={"If-Match": read.headers["ETag"]}, **page)
    assert edited.json()["id"] == created.json()["id"] and edited.headers["ETag"] == f'"{etag("# Hi" + chr(10))}"'
    assert api.ok("get_page", query={"path": "/Onboarding", "includeContent": "true"}, **page)["content"] == "# Hi\n"
    orphan = api.call("create_page", {"content": "x"}, query={"path": "/Missing/Child"}, **page)
    assert error_key(orphan) == (404, "WikiAncestorPageNotFoundException")
    child = api.call("create_page", {"content": "Setup"}, query={"path": "/Onboarding/Getting started"}, **page)
    assert child.status_code == 201 and child.json()["gitItemPath"] == "/Onboarding/Getting-started.md"
    assert api.ok("get_page", query={"path": "/Onboarding"}, **page)["isParentPage"] is True


def test_event_types_are_the_tfs_publishers() -> None:
    """The emulator raises the Project Factory's events under the ids ADO's tfs publisher declares."""
    publishers = example("hooks/httpExamples/publishers/GET__hooks_publishers.json")["responses"]["200"]["body"]
    (tfs,) = [p for p in publishers["value"] if p["id"] == "tfs"]
    published = {event["id"] for event in tfs["supportedEvents"]}
    assert FACTORY_EVENTS <= EVENT_TYPES <= PUBLISHED_EVENT_TYPES == published
    consumers = example("hooks/httpExamples/consumers/GET__hooks_consumers.json")["responses"]["200"]["body"]
    (web_hooks,) = [c for c in consumers["value"] if c["id"] == "webHooks"]
    (http_request,) = web_hooks["actions"]
    confidential = {i["id"] for i in http_request["inputDescriptors"] if i["isConfidential"]}
    assert confidential == {"basicAuthPassword"}
