"""The GitLab emulator's HTTP surface: every REST v4 endpoint the client uses under `/api/v4/`, git smart
HTTP at `/{namespace}/{name}.git/`, and `/_emulator/...` to seed projects, grant tokens and arm faults.
Routing sees the raw, still percent-encoded path, so `projects/acme%2Fshop` reaches the project route while
an unencoded `projects/acme/shop` is a 404, as on GitLab. Handlers are `async def` without awaits after
their input is parsed, so the event loop runs them one at a time: each request is atomic."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tests.emulators.common.faults import FaultMiddleware, ThrottleFault
from tests.emulators.gitlab.errors import GitLabHttpError
from tests.emulators.gitlab.faults import refuse, slow_headers
from tests.emulators.gitlab.git_http import git_http_routes
from tests.emulators.gitlab.routes_merge_requests import merge_request_routes
from tests.emulators.gitlab.routes_repository import API, repository_routes
from tests.emulators.gitlab.state import EmulatorState


def create_app(state: EmulatorState) -> Any:
    app = FastAPI(title="GitLab emulator")
    app.state.emulator = state

    @app.exception_handler(GitLabHttpError)
    async def gitlab_error(_: Request, exc: GitLabHttpError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": f"{exc.status_code} {exc.detail}"}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) or "body" for e in exc.errors())
        return JSONResponse({"error": f"{fields} is missing or invalid"}, status_code=400)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Response:
        """What GitLab checks before any handler: a known token, and a role that may write."""
        if request.url.path.startswith(API + "/"):
            header = request.headers.get("private-token") or request.headers.get("authorization", "")
            role = state.role(header.removeprefix("Bearer "))
            if role is None:
                return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
            state.auth_headers.append(header)
            if role == "reporter" and request.method != "GET":
                return JSONResponse({"message": "403 Forbidden"}, status_code=403)
        return await call_next(request)

    _admin_routes(app, state)
    repository_routes(app, state)
    merge_request_routes(app, state)
    git_http_routes(app, state)
    return FaultMiddleware(_RawPath(app), state.faults, refuse=refuse, slow_headers=slow_headers)


class _RawPath:
    """Route on the path as sent: GitLab tells `acme%2Fshop` (one project id) from `acme/shop` (two segments)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            scope = {**scope, "path": scope["raw_path"].decode("latin-1")}
        await self.app(scope, receive, send)


def _admin_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.post("/_emulator/projects")
    async def seed_project(body: dict[str, Any]) -> dict[str, Any]:
        project = state.create_project(body["name"], body.get("files", {}))
        return {"id": project.id, "path_with_namespace": project.path_with_namespace,
                "head": project.repo.tip("main")}

    @app.post("/_emulator/tokens")
    async def grant(body: dict[str, str]) -> dict[str, str]:
        state.grant(body["token"], body.get("role", "maintainer"))
        return {"token": body["token"], "role": state.tokens[body["token"]]}

    @app.post("/_emulator/faults")
    async def arm_faults(faults: list[ThrottleFault]) -> dict[str, int]:
        state.faults.arm(faults)
        return {"pending": state.faults.pending()}

    @app.delete("/_emulator/faults")
    async def clear_faults() -> dict[str, int]:
        state.faults.clear()
        return {"pending": 0}
