"""Pipeline definitions (pipelines 7.1 spec): create, list and get YAML pipelines of a project's Azure Repos
repositories. A created pipeline is runnable through the existing runs route (app.py): it gets an agent
(state.PipelineAgent) on its repository, so a run resolves its branch and finishes `succeeded` after a second,
as one defined by `PUT /_emulator/pipelines/{id}` does (that admin route can still change its result and
delay).

The 7.1 spec's CreatePipelineParameters.configuration declares only `type`; ADO's YAML configuration also
takes `path` and `repository` {id, type azureReposGit}, which the emulator requires and echoes back.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.http import listing
from tests.emulators.ado.state import EmulatorState, PipelineAgent

API = "/{org}/{project}/_apis"


def pipeline_definition_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(API + "/pipelines")
    async def list_pipelines(project: str) -> dict[str, Any]:
        owner = state.project_of(project).id
        found = [p for pid, p in state.pipeline_definitions.items() if state.pipeline_project[pid] == owner]
        return listing(sorted(found, key=lambda p: (p["folder"], p["name"].casefold())))

    @app.post(API + "/pipelines")
    async def create_pipeline(project: str, request: Request) -> dict[str, Any]:
        """Pipelines - Create (200, as the spec says). A second pipeline of that name in that folder gets the
        emulator's 409 (DefinitionExistsException): the spec documents no errors."""
        owner = state.project_of(project)
        body = await request.json()
        name, folder = str(body.get("name") or "").strip(), str(body.get("folder") or "\\")
        config = body.get("configuration") or {}
        repository = config.get("repository") or {}
        if not name:
            raise AdoHttpError(400, "A pipeline name is required.", "InvalidArgumentValueException")
        if config.get("type") != "yaml" or not config.get("path"):
            raise AdoHttpError(400, "The emulator creates YAML pipelines: configuration.type 'yaml' and "
                                    "configuration.path are required.", "InvalidArgumentValueException")
        if repository.get("type", "azureReposGit") != "azureReposGit":
            raise AdoHttpError(400, f"Repository type {repository.get('type')!r} is not supported; use "
                                    "azureReposGit.", "InvalidArgumentValueException")
        repo = state.repo(str(repository.get("id") or repository.get("name") or ""), owner.id)
        for pid, other in state.pipeline_definitions.items():
            same = (other["name"].casefold(), other["folder"]) == (name.casefold(), folder)
            if same and state.pipeline_project[pid] == owner.id:
                raise AdoHttpError(409, f"The pipeline {folder}{name} already exists.", "DefinitionExistsException")
        pipeline_id = max([*state.pipeline_definitions, *state.pipelines, 0]) + 1
        url = state.api(f"pipelines/{pipeline_id}?revision=1", owner)
        web = f"{state.base_url}/{state.org}/{owner.name}/_build/definition?definitionId={pipeline_id}"
        pipeline = {
            "_links": {"self": {"href": url}, "web": {"href": web}},
            "configuration": {"path": str(config["path"]), "repository": {"id": repo.id, "type": "azureReposGit"},
                              "type": "yaml"},
            "url": url,
            "id": pipeline_id,
            "revision": 1,
            "name": name,
            "folder": folder,
        }
        state.pipeline_definitions[pipeline_id] = pipeline
        state.pipeline_project[pipeline_id] = owner.id
        state.pipelines[pipeline_id] = PipelineAgent(repository=repo.id)
        return pipeline

    @app.get(API + "/pipelines/{pipeline_id}")
    async def get_pipeline(project: str, pipeline_id: int) -> dict[str, Any]:
        pipeline = state.pipeline_definitions.get(pipeline_id)
        if pipeline is None or state.pipeline_project[pipeline_id] != state.project_of(project).id:
            raise AdoHttpError(404, f"The pipeline {pipeline_id} does not exist in project {project}.",
                               "PipelineNotFoundException")
        return pipeline
