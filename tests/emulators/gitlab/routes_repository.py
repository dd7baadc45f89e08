"""Projects, group projects, branches, the commits API and commit statuses, under `/api/v4`. Paths arrive
still percent-encoded (see app.py), so `acme%2Fshop` and `tp%2Fdemo-1` are decoded here, as GitLab does."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from tests.emulators.gitlab.errors import GitLabHttpError, not_found, unsupported
from tests.emulators.gitlab.paging import paged
from tests.emulators.gitlab.state import EmulatedProject, EmulatorState, now

API = "/api/v4"
PROJECT = API + "/projects/{project}"
STATUS_EVENTS = {"pending": "enqueue", "running": "run", "success": "succeed", "failed": "drop",
                 "canceled": "cancel", "skipped": "skip"}
# The transitions a live (pending or running) status allows; a finished one is followed by a new status.
_TRANSITIONS = {"pending": {"running", "success", "failed", "canceled", "skipped"},
                "running": {"success", "failed", "canceled", "skipped"}}
_COMMIT_KEYS = {"branch", "commit_message", "actions", "start_branch", "start_sha", "author_name", "author_email",
                "stats"}


def strict(request: Request, allowed: set[str]) -> None:
    """Refuse query filters the emulator does not implement, rather than silently ignoring them."""
    unknown = sorted(set(request.query_params) - allowed - {"page", "per_page"})
    if unknown:
        raise unsupported(f"the parameter(s) {', '.join(unknown)} on {request.method} {request.url.path}")


def repository_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(PROJECT)
    async def get_project(project: str, request: Request) -> dict[str, Any]:
        strict(request, set())
        return state.render_project(state.project(project))

    @app.get(API + "/groups/{group}/projects")
    async def group_projects(group: str, request: Request) -> JSONResponse:
        strict(request, {"simple", "include_subgroups"})
        if unquote(group) not in (state.namespace, str(state.group_id)):
            raise not_found("Group")
        return paged(request, [state.render_project(p) for p in sorted(state.projects.values(), key=lambda p: p.id)])

    @app.get(PROJECT + "/repository/branches/{branch}")
    async def get_branch(project: str, branch: str) -> dict[str, Any]:
        return state.render_branch(state.project(project), unquote(branch))

    @app.post(PROJECT + "/repository/branches", status_code=201)
    async def create_branch(project: str, request: Request) -> dict[str, Any]:
        strict(request, {"branch", "ref"})
        found, query = state.project(project), request.query_params
        name, ref = query.get("branch"), query.get("ref")
        if not name or not ref:
            raise GitLabHttpError(400, error="branch is missing" if not name else "ref is missing")
        if not found.repo.valid_branch_name(name):
            raise GitLabHttpError(400, "Branch name is invalid")
        if found.repo.tip(name) is not None:
            raise GitLabHttpError(400, "Branch already exists")
        sha = found.repo.tip(ref) or (ref if found.repo.is_commit(ref) else None)
        if sha is None or not found.repo.set_branch(name, sha, None):
            raise GitLabHttpError(400, f"Invalid reference name: {ref}")
        return state.render_branch(found, name)

    @app.post(PROJECT + "/repository/commits", status_code=201)
    async def create_commit(project: str, body: dict[str, Any]) -> dict[str, Any]:
        found = state.project(project)
        for key in ("branch", "commit_message", "actions"):
            if not body.get(key):
                raise GitLabHttpError(400, error=f"{key} is missing")
        if set(body) - _COMMIT_KEYS:
            raise unsupported(f"commit attribute(s) {', '.join(sorted(set(body) - _COMMIT_KEYS))}")
        return _commit(state, found, body)

    @app.post(PROJECT + "/statuses/{sha}", status_code=201)
    async def post_status(project: str, sha: str, request: Request,
                          body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
        params = {**request.query_params, **(body or {})}
        found = state.project(project)
        if not found.repo.is_commit(sha):
            raise not_found("Commit")
        if params.get("pipeline_id") is not None:
            raise unsupported("pipeline_id on commit statuses")
        if params.get("state") not in STATUS_EVENTS:
            raise GitLabHttpError(400, error="state does not have a valid value")
        if len(str(params.get("description") or "")) > 255:
            raise GitLabHttpError(400, {"description": ["is too long (maximum is 255 characters)"]})
        return _post_status(state, found, sha, params)

    @app.get(PROJECT + "/repository/commits/{sha}/statuses")
    async def list_statuses(project: str, sha: str, request: Request) -> JSONResponse:
        strict(request, {"ref", "name", "all"})
        found, query = state.project(project), request.query_params
        if not found.repo.is_commit(sha):
            raise not_found("Commit")
        rows = [s for pid, s in state.statuses if pid == found.id and s["sha"] == sha
                and query.get("ref") in (None, s["ref"]) and query.get("name") in (None, s["name"])]
        if query.get("all", "false").lower() != "true":
            latest = {s["name"]: s for s in sorted(rows, key=lambda s: s["id"])}
            rows = list(latest.values())
        return paged(request, sorted(rows, key=lambda s: s["id"]))


def _commit(state: EmulatorState, project: EmulatedProject, body: dict[str, Any]) -> dict[str, Any]:
    branch = str(body["branch"])
    parent = project.repo.tip(branch)
    start = body.get("start_sha") or (project.repo.tip(body["start_branch"]) if body.get("start_branch") else None)
    if parent is not None and (body.get("start_sha") or body.get("start_branch")):
        raise GitLabHttpError(400, f"A branch called '{branch}' already exists. Switch to that branch in order to "
                                   "make changes")
    if parent is None and start is None:
        raise GitLabHttpError(400, "You can only create or edit files when you are on a branch")
    sha = project.repo.commit_actions(parent or start, str(body["commit_message"]), list(body["actions"]))
    if not project.repo.set_branch(branch, sha, parent):
        raise GitLabHttpError(400, f"Could not update branch {branch}; it moved")
    state.commits_created.append(sha)
    additions, deletions = project.repo.line_stats(sha)
    return state.render_commit(project, sha) | {
        "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions},
        "status": None, "last_pipeline": None, "project_id": project.id,
    }


def _post_status(state: EmulatorState, project: EmulatedProject, sha: str, params: dict[str, Any]) -> dict[str, Any]:
    """GitLab's rule: a live status of the same name and ref transitions; otherwise a new status begins."""
    wanted, name = str(params["state"]), str(params.get("name") or params.get("context") or "default")
    ref = params.get("ref") or next((b for b, tip in project.repo.branches() if tip == sha), None)
    live = [s for pid, s in state.statuses if pid == project.id and s["sha"] == sha and s["name"] == name
            and s["ref"] == ref and s["status"] in _TRANSITIONS]
    stamp = now()
    if live:
        status = live[-1]
        if wanted not in _TRANSITIONS[status["status"]]:
            event = STATUS_EVENTS[wanted]
            raise GitLabHttpError(400, f"Cannot transition status via :{event} from :{status['status']} (Reason(s): "
                                       f"Status cannot transition via \"{event}\")")
    else:
        status = {"id": state.next_id(), "sha": sha, "ref": ref, "name": name, "created_at": stamp,
                  "started_at": None, "finished_at": None, "allow_failure": False, "coverage": None,
                  "author": state.who(), "pipeline_id": state.next_id()}
        state.statuses.append((project.id, status))
    finished = wanted not in _TRANSITIONS
    status |= {"status": wanted, "description": params.get("description") or status.get("description"),
               "target_url": params.get("target_url") or status.get("target_url"),
               "started_at": status["started_at"] or (stamp if wanted != "pending" else None),
               "finished_at": stamp if finished else None}
    return dict(status)
