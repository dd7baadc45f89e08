"""Projects, their create operations and their Git repositories (core, operations and git 7.1 specs; copies
of the first two under specs/).

`POST /{org}/_apis/projects` answers 202 with an OperationReference (status `queued`), as ADO's recorded
example does (the spec lists 200). The project exists at once, in state `new`, with a Git repository named
after it, as ADO gives every Git project; its operation answers `inProgress` on the first poll and
`succeeded` on the next, when the project turns `wellFormed`: the default listing (stateFilter wellFormed)
shows it only then, so a client has to poll, as it must against ADO.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import FastAPI, Request

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.http import listing, require_preview
from tests.emulators.ado.state import AGILE_PROCESS, EmulatorState, Project, now

ORG_API = "/{org}/_apis"
API = "/{org}/{project}/_apis"
PROJECT_STATES = ("deleting", "new", "wellFormed", "createPending", "unchanged", "deleted")
# ADO refuses these in project names (docs: "Naming restrictions"); the emulator's message is its own.
BAD_NAME = re.compile(r"[\\/:*?\"'<>|;#$%{},+=\[\]@&~^`]|^[._]|\.$|[\x00-\x1f]")


def project_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(ORG_API + "/projects")
    async def list_projects(request: Request) -> dict[str, Any]:
        """Projects - List (7.1-preview.4): TeamProjectReferences in `stateFilter` (default wellFormed)."""
        require_preview(request)
        query = request.query_params
        wanted = query.get("stateFilter", "wellFormed")
        projects = [state.project_ref(p) for p in sorted(state.projects.values(), key=lambda p: p.name.casefold())
                    if p.state == wanted or (wanted == "all" and p.state != "deleted")]
        skip = int(query.get("$skip") or query.get("continuationToken") or 0)
        top = int(query.get("$top") or 100)
        return listing(projects[skip:skip + top])

    @app.get(ORG_API + "/projects/{project_id}")
    async def get_project(project_id: str, request: Request) -> dict[str, Any]:
        """Projects - Get (7.1-preview.4): a TeamProject by id or name; capabilities when asked for."""
        require_preview(request)
        project = state.project_of(project_id)
        body = team_project(state, project)
        if request.query_params.get("includeCapabilities", "false").lower() == "true":
            body["capabilities"] = project.capabilities
        return body

    @app.post(ORG_API + "/projects", status_code=202)
    async def create_project(request: Request) -> dict[str, Any]:
        """Projects - Create (7.1-preview.4): queue a Git project; TF200019 (409) when the name is taken."""
        require_preview(request)
        body = await request.json()
        name = str(body.get("name") or "").strip()
        if not name or len(name) > 64 or BAD_NAME.search(name):
            raise AdoHttpError(400, f"The project name {name!r} is not valid: 1 to 64 characters, none of "
                                    "\\ / : * ? \" ' < > | ; # $ % { } , + = [ ] @ & ~ ^ `, not starting with . or _ "
                                    "and not ending with .", "InvalidArgumentValueException")
        if state.find_project(name) is not None:
            # The spec documents no errors. The TF200019 message is the service's (as its users report it); the
            # 409 and the typeKey ProjectAlreadyExistsException are the emulator's choice.
            raise AdoHttpError(409, f"TF200019: The following project already exists on the Azure DevOps Server: "
                                    f"{name}. You cannot create a new project with the same name as an existing "
                                    "project. Provide a different name.", "ProjectAlreadyExistsException", 200019)
        capabilities = body.get("capabilities") or {}
        source = (capabilities.get("versioncontrol") or {}).get("sourceControlType", "Git")
        if str(source).casefold() != "git":
            raise AdoHttpError(400, f"The emulator creates Git projects only, not {source}.",
                               "InvalidArgumentValueException")
        template = (capabilities.get("processTemplate") or {}).get("templateTypeId") or AGILE_PROCESS
        visibility = body.get("visibility", "private")
        if visibility not in ("private", "public"):
            raise AdoHttpError(400, f"visibility must be private or public, not {visibility!r}.",
                               "InvalidArgumentValueException")
        project = Project(name, description=str(body.get("description") or ""), visibility=visibility, state="new",
                          capabilities={"versioncontrol": {"sourceControlType": "Git"},
                                        "processTemplate": {"templateTypeId": str(template)}})
        state.projects[project.id] = project
        state.add_repo(project, name)
        operation_id = str(uuid.uuid4())
        state.operations[operation_id] = {"project": project.id, "polls": 0}
        return {"id": operation_id, "status": "queued", "url": state.org_api(f"operations/{operation_id}")}

    @app.get(ORG_API + "/operations/{operation_id}")
    async def get_operation(operation_id: str, request: Request) -> dict[str, Any]:
        """Operations - Get (7.1-preview.1): inProgress on the first poll, succeeded from the second on."""
        require_preview(request)
        operation = state.operations.get(operation_id)
        if operation is None:
            raise AdoHttpError(404, f"The operation {operation_id} could not be found.",
                               "OperationNotFoundException")
        operation["polls"] += 1
        project = state.projects[operation["project"]]
        status = "inProgress" if operation["polls"] == 1 else "succeeded"
        if status == "succeeded" and project.state == "new":
            project.state = "wellFormed"
            project.last_update = now()
        url = state.org_api(f"operations/{operation_id}")
        return {"id": operation_id, "status": status, "url": url, "_links": {"self": {"href": url}}}

    @app.get(API + "/git/repositories")
    async def list_repositories(project: str) -> dict[str, Any]:
        """Repositories - List (7.1): the project's repositories, by name."""
        owner = state.project_of(project)
        return listing([state.repository(r) for r in sorted(owner.repos.values(), key=lambda r: r.name.casefold())])

    @app.post(API + "/git/repositories", status_code=201)
    async def create_repository(project: str, request: Request) -> dict[str, Any]:
        """Repositories - Create (7.1, 201): an empty repository; the body's project wins over the route's."""
        body = await request.json()
        named = (body.get("project") or {}).get("id") or (body.get("project") or {}).get("name")
        owner = state.project_of(named or project)
        if body.get("parentRepository"):
            raise AdoHttpError(400, "The emulator does not fork repositories.", "InvalidArgumentValueException")
        return state.repository(state.add_repo(owner, str(body.get("name") or "")))

    @app.patch(API + "/git/repositories/{repository_id}")
    async def update_repository(project: str, repository_id: str, request: Request) -> dict[str, Any]:
        """Repositories - Update (7.1): rename and/or set the default branch, in place."""
        repo = state.repo(repository_id, project)
        body = await request.json()
        if "defaultBranch" in body:
            ref = str(body["defaultBranch"])
            if not ref.startswith("refs/heads/") or len(ref) <= len("refs/heads/"):
                raise AdoHttpError(400, f"The default branch must be a full branch name (refs/heads/...), not "
                                        f"{ref!r}.", "InvalidArgumentValueException")
            repo.set_default_branch(ref)
        if body.get("name"):
            state.rename_repo(repo, str(body["name"]))
        return state.repository(repo)


def team_project(state: EmulatorState, project: Project) -> dict[str, Any]:
    """A TeamProject: the reference plus its links and default team (`{name} Team`, as ADO names it)."""
    team_url = state.org_api(f"projects/{project.id}/teams/{project.default_team_id}")
    return state.project_ref(project) | {
        "_links": {"self": {"href": state.org_api(f"projects/{project.id}")},
                   "collection": {"href": state.org_api(f"projectCollections/{state.org}")},
                   "web": {"href": f"{state.base_url}/{state.org}/{project.name}"}},
        "defaultTeam": {"id": project.default_team_id, "name": f"{project.name} Team", "url": team_url},
    }
