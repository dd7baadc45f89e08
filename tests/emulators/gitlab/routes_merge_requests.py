"""Merge requests, their notes and discussions, under `/api/v4/projects/:id/merge_requests`. Draft status
follows the title prefix, as in GitLab; merging uses the project's 'merge commit' method (optionally
squashing first) and refuses the way the documented endpoint does: 405 when not mergeable, 409 when `sha`
is not the source head, 422 when the branches conflict."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.emulators.gitlab.errors import GitLabHttpError, unsupported
from tests.emulators.gitlab.paging import paged
from tests.emulators.gitlab.routes_repository import PROJECT, strict
from tests.emulators.gitlab.state import EmulatedProject, EmulatorState, now

MRS = PROJECT + "/merge_requests"
DRAFT = re.compile(r"^\s*(?:\[draft\]|\(draft\)|draft:)", re.IGNORECASE)
_CREATE_KEYS = {"source_branch", "target_branch", "title", "description", "remove_source_branch", "squash"}
_UPDATE_KEYS = {"title", "description", "state_event", "remove_source_branch", "squash"}
_MERGE_KEYS = {"sha", "squash", "should_remove_source_branch", "merge_commit_message", "squash_commit_message",
               "merge_when_pipeline_succeeds"}
_BAD_POSITION = ("400 Bad request - Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"], "
                 ":position=>[\"is incomplete\"]}")


def merge_request_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(MRS)
    async def list_mrs(project: str, request: Request) -> JSONResponse:
        strict(request, {"state", "source_branch", "target_branch", "iids[]", "order_by", "sort", "scope"})
        found, query = state.project(project), request.query_params
        iids = {int(i) for i in query.getlist("iids[]")}
        rows = [state.render_mr(found, mr) for mr in state.merge_requests[found.id].values()
                if query.get("state", "all") in ("all", mr["state"])
                and query.get("source_branch") in (None, mr["source_branch"])
                and query.get("target_branch") in (None, mr["target_branch"]) and (not iids or mr["iid"] in iids)]
        rows.sort(key=lambda mr: mr["id"], reverse=query.get("sort", "desc") == "desc")
        return paged(request, rows)

    @app.post(MRS, status_code=201)
    async def create_mr(project: str, body: dict[str, Any]) -> dict[str, Any]:
        found = state.project(project)
        return state.render_mr(found, _open(state, found, body))

    @app.get(MRS + "/{iid}")
    async def get_mr(project: str, iid: int) -> dict[str, Any]:
        found = state.project(project)
        return state.render_mr(found, state.merge_request(found, iid))

    @app.put(MRS + "/{iid}")
    async def update_mr(project: str, iid: int, body: dict[str, Any]) -> dict[str, Any]:
        found = state.project(project)
        return state.render_mr(found, _update(state, found, state.merge_request(found, iid), body))

    @app.put(MRS + "/{iid}/merge")
    async def merge_mr(project: str, iid: int, body: dict[str, Any]) -> dict[str, Any]:
        found = state.project(project)
        return state.render_mr(found, _merge(state, found, state.merge_request(found, iid), body))

    @app.get(MRS + "/{iid}/notes")
    async def list_notes(project: str, iid: int, request: Request) -> JSONResponse:
        strict(request, {"sort", "order_by"})
        found = state.project(project)
        state.merge_request(found, iid)
        key = "updated_at" if request.query_params.get("order_by") == "updated_at" else "created_at"
        notes = sorted(state.notes.get((found.id, iid), []), key=lambda n: (n[key], n["id"]),
                       reverse=request.query_params.get("sort", "desc") == "desc")
        return paged(request, notes)

    @app.post(MRS + "/{iid}/notes", status_code=201)
    async def create_note(project: str, iid: int, body: dict[str, Any]) -> dict[str, Any]:
        found = state.project(project)
        mr = state.merge_request(found, iid)
        if set(body) - {"body"}:
            raise unsupported(f"note attribute(s) {', '.join(sorted(set(body) - {'body'}))}")
        if not str(body.get("body") or "").strip():
            raise GitLabHttpError(400, error="body is missing")
        return state.add_note(found, mr, str(body["body"]))

    @app.get(MRS + "/{iid}/discussions")
    async def list_discussions(project: str, iid: int, request: Request) -> JSONResponse:
        found = state.project(project)
        state.merge_request(found, iid)
        return paged(request, state.discussions.get((found.id, iid), []))

    @app.post(MRS + "/{iid}/discussions", status_code=201)
    async def create_discussion(project: str, iid: int, body: dict[str, Any]) -> dict[str, Any]:
        found = state.project(project)
        mr = state.merge_request(found, iid)
        if not str(body.get("body") or "").strip():
            raise GitLabHttpError(400, error="body is missing")
        if set(body) - {"body", "position"}:
            raise unsupported(f"discussion attribute(s) {', '.join(sorted(set(body) - {'body', 'position'}))}")
        position = _position(found, body["position"]) if body.get("position") is not None else None
        return state.add_discussion(found, mr, str(body["body"]), position)


def _open(state: EmulatorState, project: EmulatedProject, body: dict[str, Any]) -> dict[str, Any]:
    for key in ("source_branch", "target_branch", "title"):
        if not body.get(key):
            raise GitLabHttpError(400, error=f"{key} is missing")
    if set(body) - _CREATE_KEYS:
        raise unsupported(f"merge request attribute(s) {', '.join(sorted(set(body) - _CREATE_KEYS))}")
    source, target, title = str(body["source_branch"]), str(body["target_branch"]), str(body["title"])
    if source == target:
        raise GitLabHttpError(400, ["You can't use same project/branch for source and target"])
    for kind, branch in (("source", source), ("target", target)):
        if project.repo.tip(branch) is None:
            raise GitLabHttpError(400, {f"{kind}_branch": [f"{kind} branch \"{branch}\" does not exist"]})
    for other in state.merge_requests[project.id].values():
        if other["source_branch"] == source and other["state"] == "opened":
            raise GitLabHttpError(409, [f"Another open merge request already exists for this source branch: "
                                        f"!{other['iid']}"])
    iid = max(state.merge_requests[project.id], default=0) + 1
    stamp, path = now(), project.path_with_namespace
    mr = {
        "id": state.next_id(), "iid": iid, "project_id": project.id, "title": title,
        "description": str(body.get("description") or ""), "state": "opened", "imported": False,
        "imported_from": "none", "created_at": stamp, "updated_at": stamp, "merged_by": None, "merge_user": None,
        "merged_at": None, "merge_after": None, "prepared_at": stamp, "closed_by": None, "closed_at": None,
        "target_branch": target, "source_branch": source, "user_notes_count": 0, "upvotes": 0, "downvotes": 0,
        "author": state.who(), "assignees": [], "assignee": None, "reviewers": [], "source_project_id": project.id,
        "target_project_id": project.id, "labels": [], "draft": bool(DRAFT.match(title)),
        "work_in_progress": bool(DRAFT.match(title)), "milestone": None, "merge_when_pipeline_succeeds": False,
        "merge_status": "checking", "detailed_merge_status": "checking", "sha": None, "merge_commit_sha": None,
        "squash_commit_sha": None, "discussion_locked": None,
        "should_remove_source_branch": bool(body.get("remove_source_branch")), "force_remove_source_branch": False,
        "reference": f"!{iid}", "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"{path}!{iid}"},
        "web_url": state.web(f"{path}/-/merge_requests/{iid}"),
        "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                       "human_total_time_spent": None},
        "squash": bool(body.get("squash")), "squash_on_merge": bool(body.get("squash")),
        "task_completion_status": {"count": 0, "completed_count": 0}, "has_conflicts": False,
        "blocking_discussions_resolved": True, "subscribed": True, "changes_count": None, "diff_refs": None,
        "merge_error": None, "first_contribution": False, "user": {"can_merge": True},
        "approvals_before_merge": None, "latest_build_started_at": None, "latest_build_finished_at": None,
        "first_deployed_to_production_at": None,  # no pipelines run in the emulator
    }
    state.merge_requests[project.id][iid] = mr
    return mr


def _update(state: EmulatorState, project: EmulatedProject, mr: dict[str, Any], body: dict[str, Any]
            ) -> dict[str, Any]:
    if not body:
        raise GitLabHttpError(400, error="at least one parameter must be provided")
    if set(body) - _UPDATE_KEYS:
        raise unsupported(f"merge request attribute(s) {', '.join(sorted(set(body) - _UPDATE_KEYS))}")
    was_draft = mr["draft"]
    if "title" in body:
        mr |= {"title": str(body["title"]), "draft": bool(DRAFT.match(str(body["title"]))),
               "work_in_progress": bool(DRAFT.match(str(body["title"])))}
    for key in ("description", "squash"):
        if key in body:
            mr[key] = body[key]
    if "remove_source_branch" in body:
        mr["should_remove_source_branch"] = bool(body["remove_source_branch"])
    event = body.get("state_event")
    if event not in (None, "close", "reopen"):
        raise GitLabHttpError(400, error="state_event does not have a valid value")
    if event == "close" and mr["state"] == "opened":  # on a closed or merged MR, GitLab ignores the event
        mr |= {"state": "closed", "closed_at": now(), "closed_by": state.who(), "detailed_merge_status": "not_open"}
        state.add_note(project, mr, "closed", system=True)
    elif event == "reopen" and mr["state"] == "closed":
        mr |= {"state": "opened", "closed_at": None, "closed_by": None}
        state.add_note(project, mr, "reopened", system=True)
    if mr["draft"] != was_draft:
        state.add_note(project, mr, f"marked this merge request as **{'draft' if mr['draft'] else 'ready'}**",
                       system=True)
    mr["updated_at"] = now()
    return mr


def _merge(state: EmulatorState, project: EmulatedProject, mr: dict[str, Any], body: dict[str, Any]
           ) -> dict[str, Any]:
    if set(body) - _MERGE_KEYS:
        raise unsupported(f"merge attribute(s) {', '.join(sorted(set(body) - _MERGE_KEYS))}")
    if body.get("merge_when_pipeline_succeeds"):
        raise unsupported("merge_when_pipeline_succeeds (auto-merge)")
    current = state.render_mr(project, mr)
    if current["state"] != "opened" or current["draft"] or current["sha"] is None:
        raise GitLabHttpError(405, "405 Method Not Allowed")
    if body.get("sha") and body["sha"] != current["sha"]:
        raise GitLabHttpError(409, f"SHA does not match HEAD of source branch: {current['sha']}")
    squash = bool(body.get("squash", mr["squash"]))
    title, source, target = mr["title"], mr["source_branch"], mr["target_branch"]
    message = body.get("merge_commit_message") or (f"Merge branch '{source}' into '{target}'\n\n{title}\n\n"
                                                    f"See merge request {mr['references']['full']}\n")
    squash_message = (body.get("squash_commit_message") or f"{title}\n") if squash else None
    merged = None if current["has_conflicts"] else project.repo.merge(
        target, current["sha"], squash_message=squash_message, message=message)
    if merged is None:
        raise GitLabHttpError(422, "Branch cannot be merged")
    if body.get("should_remove_source_branch", mr["should_remove_source_branch"]):
        project.repo.delete_branch(source)
    stamp = now()
    mr |= {"state": "merged", "merged_at": stamp, "updated_at": stamp, "merged_by": state.who(),
           "merge_user": state.who(), "merge_commit_sha": merged[0], "squash_commit_sha": merged[1],
           "squash": squash, "detailed_merge_status": "not_open"}
    return mr


def _position(project: EmulatedProject, position: dict[str, Any]) -> dict[str, Any]:
    """A text position checked the way GitLab builds its line code: the file must be in the diff between
    `base_sha` and `head_sha`, and (old_line, new_line) must name a line that diff shows."""
    if position.get("position_type") != "text":
        raise unsupported(f"position_type {position.get('position_type')!r} (only 'text')")
    for key in ("base_sha", "start_sha", "head_sha", "old_path", "new_path"):
        if not position.get(key):
            raise GitLabHttpError(400, error=f"position[{key}] is missing")
    base, head, path = position["base_sha"], position["head_sha"], position["new_path"]
    shas_known = all(project.repo.is_commit(position[k]) for k in ("base_sha", "start_sha", "head_sha"))
    old, new = position.get("old_line"), position.get("new_line")
    line = (None if old is None else int(old), None if new is None else int(new))
    if not shas_known or path not in project.repo.changed_paths(base, head) \
            or line not in project.repo.line_codes(base, head, path):
        raise GitLabHttpError(400, _BAD_POSITION)
    keys = ("base_sha", "start_sha", "head_sha", "old_path", "new_path")
    return {**{k: position[k] for k in keys}, "position_type": "text", "old_line": line[0], "new_line": line[1],
            "line_range": None}
