"""Branch policies (policy 7.1 spec, copy under specs/; api-version 7.1-preview.1): the policy types and a
project's PolicyConfigurations, with ADO's revision per update.

Types and answers follow the recorded examples: the four types of `GET policy/types`, and `matchKind`
echoed capitalised (`Exact`, `Prefix`) whatever case it was sent in. What the examples do not show (an
unknown type, a missing setting, an unknown repository, a missing configuration) gets the emulator's own
400/404 with ADO's error envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.http import listing, require_preview
from tests.emulators.ado.state import EmulatorState, Project, now

API = "/{org}/{project}/_apis"
MINIMUM_REVIEWERS = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
BUILD = "0609b952-1397-4640-95ec-e00a01b2c241"
# id: (displayName, description), as policy/5.0/httpExamples/types/GET__policy_types.json records them.
POLICY_TYPES = {
    BUILD: ("Build", "This policy will require a successful build has been performed before updating protected "
                     "refs."),
    "2e26e725-8201-4edd-8bf5-978563c34a80": (
        "File size restriction", "This policy will reject pushes to a repository for files which exceed the "
                                 "specified size."),
    "fd2167ab-b0be-447a-8ec8-39368250530e": (
        "Required reviewers", "This policy will ensure that required reviewers are added for files with certain "
                              "extensions."),
    MINIMUM_REVIEWERS: ("Minimum approval count", "This policy will ensure that a minimum number of reviewers have "
                                                  "approved a pull request before completion."),
}
MATCH_KINDS = {"exact": "Exact", "prefix": "Prefix", "defaultbranch": "DefaultBranch"}


def policy_routes(app: FastAPI, state: EmulatorState) -> None:
    base = API + "/policy/configurations"

    @app.get(API + "/policy/types")
    async def list_types(project: str, request: Request) -> dict[str, Any]:
        require_preview(request)
        owner = state.project_of(project)
        return listing([policy_type(state, owner, type_id) | {"description": description,
                                                              "_links": {"self": {"href": type_url(state, owner,
                                                                                                   type_id)}}}
                        for type_id, (_, description) in POLICY_TYPES.items()])

    @app.get(base)
    async def list_configurations(project: str, request: Request) -> dict[str, Any]:
        """Configurations - List: the project's live configurations by id, optionally of one `policyType`."""
        require_preview(request)
        owner = state.project_of(project)
        wanted = request.query_params.get("policyType")
        found = [c for c in state.policies.values() if c["_project"] == owner.id and not c["isDeleted"]
                 and wanted in (None, c["type"]["id"])]
        return listing([public(c) for c in sorted(found, key=lambda c: c["id"])])

    @app.post(base)
    async def create_configuration(project: str, request: Request) -> dict[str, Any]:
        """Configurations - Create (200, as the spec and the recorded examples say)."""
        require_preview(request)
        owner = state.project_of(project)
        config_id = max(state.policies, default=0) + 1
        config = configuration(state, owner, await request.json(), config_id, 1, now())
        state.policies[config_id] = config
        return public(config)

    @app.get(base + "/{configuration_id}")
    async def get_configuration(project: str, configuration_id: int, request: Request) -> dict[str, Any]:
        require_preview(request)
        return public(existing(state, state.project_of(project), configuration_id))

    @app.put(base + "/{configuration_id}")
    async def update_configuration(project: str, configuration_id: int, request: Request) -> dict[str, Any]:
        """Configurations - Update: replaces the settings in place and bumps `revision`."""
        require_preview(request)
        owner = state.project_of(project)
        old = existing(state, owner, configuration_id)
        config = configuration(state, owner, await request.json(), configuration_id, old["revision"] + 1,
                               old["createdDate"])
        state.policies[configuration_id] = config
        return public(config)

    @app.delete(base + "/{configuration_id}", status_code=204)
    async def delete_configuration(project: str, configuration_id: int, request: Request) -> Response:
        """Configurations - Delete: 204 (NoContent), as the spec says."""
        require_preview(request)
        existing(state, state.project_of(project), configuration_id)["isDeleted"] = True
        return Response(status_code=204)


def type_url(state: EmulatorState, project: Project, type_id: str) -> str:
    return f"{state.base_url}/{state.org}/{project.id}/_apis/policy/types/{type_id}"


def policy_type(state: EmulatorState, project: Project, type_id: str) -> dict[str, Any]:
    return {"id": type_id, "url": type_url(state, project, type_id), "displayName": POLICY_TYPES[type_id][0]}


def public(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "_project"}


def existing(state: EmulatorState, project: Project, config_id: int) -> dict[str, Any]:
    config = state.policies.get(config_id)
    if config is None or config["_project"] != project.id or config["isDeleted"]:
        raise AdoHttpError(404, f"The policy configuration {config_id} does not exist.",
                           "PolicyConfigurationNotFoundException")
    return config


def configuration(state: EmulatorState, project: Project, body: dict[str, Any], config_id: int, revision: int,
                  created: str) -> dict[str, Any]:
    """A PolicyConfiguration from a create or update body, checked the way the Project Factory needs."""
    type_id = str((body.get("type") or {}).get("id") or "")
    if type_id not in POLICY_TYPES:
        raise AdoHttpError(400, f"The policy type {type_id!r} is not one of {sorted(POLICY_TYPES)}.",
                           "InvalidArgumentValueException")
    settings = dict(body.get("settings") or {})
    if type_id == MINIMUM_REVIEWERS and not (isinstance(settings.get("minimumApproverCount"), int)
                                             and settings["minimumApproverCount"] >= 1):
        raise AdoHttpError(400, "settings.minimumApproverCount must be a whole number of 1 or more.",
                           "InvalidArgumentValueException")
    if type_id == BUILD and not isinstance(settings.get("buildDefinitionId"), int):
        raise AdoHttpError(400, "settings.buildDefinitionId (the pipeline id) is required.",
                           "InvalidArgumentValueException")
    scopes = []
    for scope in settings.get("scope") or []:
        kind = MATCH_KINDS.get(str(scope.get("matchKind", "exact")).casefold())
        ref, repo_id = scope.get("refName"), scope.get("repositoryId")
        if kind is None or (kind != "DefaultBranch" and not str(ref or "").startswith("refs/")):
            raise AdoHttpError(400, f"Each scope needs a refName (refs/...) and a matchKind of exact, prefix or "
                                    f"defaultBranch: {scope}.", "InvalidArgumentValueException")
        if repo_id is not None:
            state.repo(str(repo_id), project.id)
        scopes.append({"refName": ref, "matchKind": kind, "repositoryId": repo_id})
    if "scope" in settings:
        settings["scope"] = scopes
    url = f"{state.base_url}/{state.org}/{project.id}/_apis/policy/configurations/{config_id}"
    return {
        "createdBy": state.who(),
        "createdDate": created,
        "isEnabled": bool(body.get("isEnabled", False)),
        "isBlocking": bool(body.get("isBlocking", False)),
        "isDeleted": False,
        "settings": settings,
        "_links": {"self": {"href": url}, "type": {"href": type_url(state, project, type_id)}},
        "revision": revision,
        "id": config_id,
        "url": url,
        "type": policy_type(state, project, type_id),
        "_project": project.id,
    }
