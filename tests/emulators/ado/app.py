"""The ADO emulator's HTTP surface: every endpoint the client uses, under `/{org}/{project}/_apis/` (any
project, by name or id) and `/{org}/_apis/` (projects, operations, service hooks), plus `/_emulator/...` to
seed repositories and work items, finish pipeline runs and arm faults. Handlers are `async def` without
awaits, so the event loop runs them one at a time: each request is atomic.

The Project Factory's endpoints live beside this module: projects.py (projects, operations, repositories),
policy.py, pipeline_defs.py, hooks_api.py and wiki.py; the Team Directory's graph (users, groups, memberships
under `/{org}/_apis/graph/`, and `/_emulator/users` to seed users) is graph.py."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.faults import refuse, slow_headers
from tests.emulators.ado.git_http import git_http_routes
from tests.emulators.ado.graph import graph_routes
from tests.emulators.ado.hooks_api import hooks_routes
from tests.emulators.ado.http import listing, require_preview
from tests.emulators.ado.pipeline_defs import pipeline_definition_routes
from tests.emulators.ado.policy import policy_routes
from tests.emulators.ado.projects import project_routes
from tests.emulators.ado.repos import ZERO
from tests.emulators.ado.service_hooks import Subscription
from tests.emulators.ado.state import EmulatorState, PipelineAgent, now
from tests.emulators.ado.wiki import wiki_routes
from tests.emulators.common.faults import FaultMiddleware, ThrottleFault

API = "/{org}/{project}/_apis"
__all__ = ["create_app", "listing"]


def create_app(state: EmulatorState) -> FastAPI:
    app = FastAPI(title="Azure DevOps emulator")
    app.state.emulator = state

    @app.exception_handler(AdoHttpError)
    async def ado_error(_: Request, exc: AdoHttpError) -> JSONResponse:
        return exc.response()

    @app.middleware("http")
    async def gatekeeper(request: Request, call_next: Any) -> Response:
        """What ADO checks before any handler: the project (for project routes), credentials and an api-version,
        for `/{org}/{project}/_apis/...` and the organisation's own `/{org}/_apis/...` alike."""
        parts = request.scope["path"].split("/")
        org_level = len(parts) > 2 and parts[2] == "_apis"
        if org_level or (len(parts) > 3 and parts[3] == "_apis"):
            if not org_level and state.find_project(parts[2]) is None:
                return AdoHttpError(404, f"TF200016: The following project does not exist: {parts[2]}.",
                                    "ProjectDoesNotExistWithNameException", 200016).response()
            header = request.headers.get("authorization", "")
            if not header.startswith(("Basic ", "Bearer ")):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
            state.auth_headers.append(header)
            if "api-version" not in request.query_params:
                return AdoHttpError(400, f"No api-version was supplied for the \"{request.method}\" request. The "
                                         "version must be supplied either as part of the Accept header or as a query "
                                         "string parameter.", "VssVersionNotSpecifiedException").response()
        return await call_next(request)

    _admin_routes(app, state)
    _work_item_routes(app, state)
    project_routes(app, state)
    _git_routes(app, state)
    _pull_request_routes(app, state)
    _pipeline_routes(app, state)
    pipeline_definition_routes(app, state)
    policy_routes(app, state)
    hooks_routes(app, state)
    wiki_routes(app, state)
    graph_routes(app, state)
    git_http_routes(app, state)
    return FaultMiddleware(app, state.faults, refuse=refuse, slow_headers=slow_headers)  # type: ignore[return-value]


def _admin_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.post("/_emulator/repos")
    async def seed_repo(body: dict[str, Any]) -> dict[str, Any]:
        """A repository whose `main` holds `files`, in `project` (name or id; the default project if absent)."""
        repo = state.create_repo(body["name"], body.get("files", {}), body.get("project"))
        return {"id": repo.id, "name": repo.name, "head": repo.tip(repo.default_branch)}

    @app.post("/_emulator/workitems")
    async def seed_work_item(body: dict[str, Any]) -> dict[str, Any]:
        """A work item with `fields`, in `project` (name or id; the default project if absent)."""
        return state.create_work_item(body.get("fields", {}), body.get("project"))

    @app.post("/_emulator/subscriptions")
    async def subscribe(subscription: Subscription) -> dict[str, str]:
        try:
            return {"id": state.service_hooks.subscribe(subscription)}
        except ValueError as exc:
            raise AdoHttpError(400, str(exc), "InvalidArgumentValueException") from exc

    @app.get("/_emulator/deliveries")
    async def deliveries() -> list[dict[str, Any]]:
        return [{"subscriptionId": d.subscription_id, "eventType": d.payload["eventType"], "outcome": d.outcome,
                 "statuses": [a.status for a in d.attempts]} for d in state.service_hooks.deliveries]

    @app.post("/_emulator/faults")
    async def arm_faults(faults: list[ThrottleFault]) -> dict[str, int]:
        state.faults.arm(faults)
        return {"pending": state.faults.pending()}

    @app.delete("/_emulator/faults")
    async def clear_faults() -> dict[str, int]:
        state.faults.clear()
        return {"pending": 0}

    @app.post("/_emulator/pipelines/{pipeline_id}/runs/{run_id}")
    async def finish_run(pipeline_id: int, run_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return state.finish_run(run_id, body["result"])

    @app.put("/_emulator/pipelines/{pipeline_id}")
    async def define_pipeline(pipeline_id: int, agent: PipelineAgent) -> dict[str, Any]:
        """Give a pipeline a repository and an agent that finishes each run with `result` after `seconds`."""
        state.repo(agent.repository)
        state.pipelines[pipeline_id] = agent
        return {"id": pipeline_id, **agent.model_dump()}


def _work_item_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(API + "/wit/workitems/{item_id}")
    async def get_work_item(item_id: int, request: Request) -> dict[str, Any]:
        item = state.work_item(item_id)
        expand = request.query_params.get("$expand", "None").lower()
        return item if expand in ("relations", "all") else {k: v for k, v in item.items() if k != "relations"}

    @app.patch(API + "/wit/workitems/{item_id}")
    async def update_work_item(item_id: int, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0] != "application/json-patch+json":
            raise AdoHttpError(415, "The request indicated a Content-Type of \"application/json\" for method type "
                                    "\"PATCH\" which is not supported. Valid content types for this method are: "
                                    "application/json-patch+json.", "VssRequestContentTypeNotSupportedException")
        item = state.work_item(item_id)
        fields = dict(item["fields"])
        relations = list(item["relations"])
        for op in await request.json():
            path, value = op["path"], op.get("value")
            if op["op"] == "test":
                if path == "/rev" and value != item["rev"]:
                    raise AdoHttpError(412, f"TF26071: This work item has been changed by someone else since you "
                                            f"opened it (rev {item['rev']}, not {value}).",
                                       "WorkItemRevisionMismatchException", 26071)
            elif path.startswith("/fields/") and op["op"] in ("add", "replace"):
                fields[path.removeprefix("/fields/")] = value
            elif path.startswith("/fields/") and op["op"] == "remove":
                fields.pop(path.removeprefix("/fields/"), None)
            elif path == "/relations/-" and op["op"] == "add":
                relations.append(value)
            else:
                raise AdoHttpError(400, f"unsupported patch operation {op}", "InvalidArgumentValueException")
        return state.update_work_item(item, fields, relations)

    @app.post(API + "/wit/workItems/{item_id}/comments")
    async def add_comment(item_id: int, request: Request) -> dict[str, Any]:
        require_preview(request)
        state.work_item(item_id)
        body = await request.json()
        return state.add_comment(item_id, str(body.get("text", "")))

    @app.get(API + "/wit/workItems/{item_id}/comments")
    async def list_comments(item_id: int, request: Request) -> dict[str, Any]:
        """Comments_Get Comments: a page of `$top` (default 200) in `order`, the next one by continuationToken
        (the emulator's token is the offset; clients treat it as opaque)."""
        require_preview(request)
        state.work_item(item_id)
        query = request.query_params
        comments = [c for c in state.comments[item_id] if not c["isDeleted"]]
        if query.get("order", "desc").lower() == "desc":
            comments.reverse()
        start, top = int(query.get("continuationToken") or 0), int(query.get("$top") or 200)
        page = comments[start:start + top]
        more = start + top < len(comments)
        url = state.api(f"wit/workItems/{item_id}/comments")
        return {"totalCount": len(comments), "count": len(page), "comments": page, "url": url,
                **({"continuationToken": str(start + top), "nextPage": f"{url}?continuationToken={start + top}"}
                   if more else {})}


def _git_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(API + "/git/repositories/{repo}")
    async def get_repository(project: str, repo: str) -> dict[str, Any]:
        return state.repository(state.repo(repo, project))

    @app.get(API + "/git/repositories/{repo}/refs")
    async def list_refs(project: str, repo: str, request: Request) -> dict[str, Any]:
        found = state.repo(repo, project)
        prefix = "refs/" + request.query_params.get("filter", "")
        refs = [{"name": name, "objectId": sha, "creator": state.who(),
                 "url": state.api(f"git/repositories/{found.id}/refs?filter={name[5:]}")}
                for name, sha in found.refs(prefix)]
        return listing(refs)

    @app.post(API + "/git/repositories/{repo}/refs")
    async def update_refs(project: str, repo: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        found = state.repo(repo, project)
        results = []
        for update in updates:
            status = found.update_ref(update["name"], update["oldObjectId"], update["newObjectId"])
            results.append({"repositoryId": found.id, "name": update["name"], "oldObjectId": update["oldObjectId"],
                            "newObjectId": update["newObjectId"], "isLocked": False, "updateStatus": status,
                            "success": status.startswith("succeeded")})
        return listing(results)

    @app.post(API + "/git/repositories/{repo}/pushes", status_code=201)
    async def push(project: str, repo: str, body: dict[str, Any]) -> dict[str, Any]:
        found = state.repo(repo, project)
        (update,) = body["refUpdates"]
        ref, old = update["name"], update["oldObjectId"]
        stale = AdoHttpError(409, f"TF401028: The reference '{ref}' has already been updated by another client, so "
                                  "you cannot update it. Please try again.", "GitReferenceStaleException", 401028)
        if found.tip(ref) != (None if old == ZERO else old):
            raise stale
        parent = None if old == ZERO else old
        commits = []
        for commit in body["commits"]:
            parents = commit.get("parents") or ([parent] if parent else [])
            parent = found.commit_changes(parents[0] if parents else None, commit["comment"], commit["changes"])
            commits.append(state.commit(found, parent))
        if found.update_ref(ref, old, parent) != "succeeded":
            raise stale
        push_id = len(state.pushes) + 1
        url = state.api(f"git/repositories/{found.id}/pushes/{push_id}")
        record = {
            "commits": commits,
            "refUpdates": [{"repositoryId": found.id, "name": ref, "oldObjectId": old, "newObjectId": parent}],
            "repository": state.repo_ref(found),
            "pushedBy": state.who(),
            "pushId": push_id,
            "date": now(),
            "url": url,
            "_links": {"self": {"href": url}, "repository": {"href": state.repo_ref(found)["url"]}},
        }
        state.pushes.append(record)
        return record

    @app.get(API + "/git/repositories/{repo}/commits/{commit_id}")
    async def get_commit(project: str, repo: str, commit_id: str) -> dict[str, Any]:
        return state.commit(state.repo(repo, project), commit_id)

    @app.get(API + "/git/repositories/{repo}/items")
    async def get_item(project: str, repo: str, request: Request) -> dict[str, Any]:
        found = state.repo(repo, project)
        query = request.query_params
        branch = query.get("versionDescriptor.version", found.default_branch.removeprefix("refs/heads/"))
        commit = found.tip(f"refs/heads/{branch}")
        path = "/" + query.get("path", "").lstrip("/")
        blob = found.read_blob(commit, path) if commit else None
        if blob is None:
            message = f"TF401174: The item '{path}' could not be found in the repository '{found.name}' at the version "
            raise AdoHttpError(404, f"{message}specified by '{branch}'.", "GitItemNotFoundException", 401174)
        item = {"objectId": blob[0], "gitObjectType": "blob", "commitId": commit, "path": path,
                "url": state.api(f"git/repositories/{found.id}/items?path={path}")}
        if query.get("includeContent", "false").lower() == "true":
            item["content"] = blob[1]
        return item


def _pull_request_routes(app: FastAPI, state: EmulatorState) -> None:
    prs = API + "/git/repositories/{repo}/pullrequests"
    pr_sub = API + "/git/repositories/{repo}/pullRequests/{pr_id}"

    @app.post(prs, status_code=201)
    async def create_pr(project: str, repo: str, body: dict[str, Any]) -> dict[str, Any]:
        return state.open_pr(state.repo(repo, project), body)

    @app.get(prs)
    async def list_prs(project: str, repo: str, request: Request) -> dict[str, Any]:
        found = state.repo(repo, project)
        query = request.query_params
        wanted = {
            "sourceRefName": query.get("searchCriteria.sourceRefName"),
            "targetRefName": query.get("searchCriteria.targetRefName"),
            "status": query.get("searchCriteria.status", "active"),
        }
        matches = [
            {k: v for k, v in pr.items() if k != "_links"}
            for pr in sorted(state.pull_requests.values(), key=lambda p: -p["pullRequestId"])
            if pr["repository"]["id"] == found.id
            and all(value in (None, "all", pr[key]) for key, value in wanted.items())
        ]
        return listing(matches)

    @app.get(API + "/git/pullrequests")
    async def list_project_prs(project: str, request: Request) -> dict[str, Any]:
        """Pull Requests - Get Pull Requests By Project: every repository's, newest first, paged by $top/$skip."""
        query = request.query_params
        status = query.get("searchCriteria.status", "active")
        repo_id = query.get("searchCriteria.repositoryId")
        owner = state.project_of(project).id
        matches = [
            {k: v for k, v in pr.items() if k != "_links"}
            for pr in sorted(state.pull_requests.values(), key=lambda p: -p["pullRequestId"])
            if status in ("all", pr["status"]) and repo_id in (None, pr["repository"]["id"])
            and pr["repository"]["project"]["id"] == owner
        ]
        skip, top = int(query.get("$skip", 0)), int(query.get("$top", 101))
        return listing(matches[skip:skip + top])

    @app.get(API + "/git/pullrequests/{pr_id}")
    async def get_pr_by_id(project: str, pr_id: int) -> dict[str, Any]:
        pr = state.pull_requests.get(pr_id)
        if pr is None or pr["repository"]["project"]["id"] != state.project_of(project).id:
            raise AdoHttpError(404, f"TF401180: The requested pull request was not found: {pr_id}.",
                               "GitPullRequestNotFoundException", 401180)
        return pr

    @app.get(prs + "/{pr_id}")
    async def get_pr(project: str, repo: str, pr_id: int) -> dict[str, Any]:
        return state.pull_request(state.repo(repo, project), pr_id)

    @app.patch(prs + "/{pr_id}")
    async def update_pr(project: str, repo: str, pr_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return state.update_pr(state.repo(repo, project), pr_id, body)

    @app.post(pr_sub + "/threads")
    async def create_thread(project: str, repo: str, pr_id: int, body: dict[str, Any]) -> dict[str, Any]:
        state.pull_request(state.repo(repo, project), pr_id)
        return state.add_thread(pr_id, body)

    @app.get(pr_sub + "/threads")
    async def list_threads(project: str, repo: str, pr_id: int) -> dict[str, Any]:
        state.pull_request(state.repo(repo, project), pr_id)
        return listing(state.threads[pr_id])

    @app.put(pr_sub + "/reviewers/{reviewer_id}")
    async def set_reviewer(
        project: str, repo: str, pr_id: int, reviewer_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        found = state.repo(repo, project)
        return state.set_reviewer(found, state.pull_request(found, pr_id), reviewer_id, body)

    @app.get(pr_sub + "/reviewers")
    async def list_reviewers(project: str, repo: str, pr_id: int) -> dict[str, Any]:
        return listing(state.pull_request(state.repo(repo, project), pr_id)["reviewers"])

    @app.post(pr_sub + "/statuses")
    async def create_status(project: str, repo: str, pr_id: int, body: dict[str, Any]) -> dict[str, Any]:
        state.pull_request(state.repo(repo, project), pr_id)
        return state.add_status(pr_id, body)

    @app.get(pr_sub + "/statuses")
    async def list_statuses(project: str, repo: str, pr_id: int) -> dict[str, Any]:
        state.pull_request(state.repo(repo, project), pr_id)
        return listing(state.statuses[pr_id])


def _pipeline_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.post(API + "/pipelines/{pipeline_id}/runs")
    async def run_pipeline(project: str, pipeline_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Runs any pipeline id; one with an agent (admin PUT, or created by POST pipelines) resolves its branch
        and finishes on its own. A created pipeline's run carries its name, folder and revision."""
        owner = state.project_of(project)
        self_repo = ((body.get("resources") or {}).get("repositories") or {}).get("self") or {}
        ref, version = self_repo.get("refName", ""), self_repo.get("version")
        definition = state.pipeline_definitions.get(pipeline_id)
        if definition is not None and state.pipeline_project[pipeline_id] != owner.id:
            definition = None
        name = definition["name"] if definition else f"pipeline-{pipeline_id}"
        agent = state.pipelines.get(pipeline_id)
        if agent is not None and version is None:
            version = state.repo(agent.repository).tip(ref)
            if version is None:
                raise AdoHttpError(400, f"The branch {ref!r} does not exist in {agent.repository!r}.",
                                   "PipelineValidationException")
        run_id = state.next_id()
        stamp = now()
        pipeline_url = state.api(f"pipelines/{pipeline_id}", owner)
        run = {
            "id": run_id,
            "name": f"{stamp[:10].replace('-', '')}.{run_id}",
            "state": "inProgress",
            "createdDate": stamp,
            "url": f"{pipeline_url}/runs/{run_id}",
            "pipeline": {"id": pipeline_id, "name": name, "folder": definition["folder"] if definition else "\\",
                         "revision": definition["revision"] if definition else 1, "url": pipeline_url},
            "resources": {"repositories": {"self": {"refName": ref}}},
            "templateParameters": body.get("templateParameters") or {},
            "_links": {"self": {"href": f"{pipeline_url}/runs/{run_id}"}},
        }
        state.runs[run_id] = run
        state.run_project[run_id] = owner.id
        state.builds[run_id] = {
            "id": run_id,
            "buildNumber": run["name"],
            "status": "inProgress",
            "queueTime": stamp,
            "definition": {"id": pipeline_id, "name": name},
            "sourceBranch": ref,
            "url": state.api(f"build/Builds/{run_id}", owner),
        }
        if version:
            state.builds[run_id]["sourceVersion"] = version
        if agent is not None:
            asyncio.get_running_loop().call_later(agent.seconds, state.finish_run, run_id, agent.result)
        return run

    @app.get(API + "/pipelines/{pipeline_id}/runs/{run_id}")
    async def get_run(project: str, pipeline_id: int, run_id: int) -> dict[str, Any]:
        run = state.runs.get(run_id)
        owner = state.project_of(project).id
        if run is None or run["pipeline"]["id"] != pipeline_id or state.run_project.get(run_id) != owner:
            raise AdoHttpError(404, f"Run {run_id} of pipeline {pipeline_id} was not found.",
                               "PipelineRunNotFoundException")
        return run

    @app.get(API + "/build/builds")
    async def list_builds(project: str, request: Request) -> dict[str, Any]:
        query = request.query_params
        definitions = {int(d) for d in query.get("definitions", "").split(",") if d}
        branch = query.get("branchName")
        owner = state.project_of(project).id
        builds = [b for b in state.builds.values()
                  if state.run_project.get(b["id"]) == owner
                  and (not definitions or b["definition"]["id"] in definitions)
                  and (branch is None or b["sourceBranch"] == branch)]
        builds.sort(key=lambda b: (b["queueTime"], b["id"]), reverse=True)
        return listing(builds[: int(query.get("$top", len(builds) or 1))])
