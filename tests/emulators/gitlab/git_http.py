"""Git's smart HTTP for the emulator's projects (see tests/emulators/common/git_http.py) at GitLab's own
remote URL shape `/{namespace}/{name}.git`. Like GitLab with a private project, a fetch needs HTTP Basic with
an access token as password (any user name); pushes are refused, since writes go through the commits API.
Each credential seen is recorded, so tests can prove that git sent the token in a header rather than finding
it in a config file."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.common.git_http import basic_password, is_push, serve_git
from tests.emulators.gitlab.errors import not_found
from tests.emulators.gitlab.state import EmulatorState

GIT_PATH = "/{namespace}/{name}.git/{rest:path}"


def git_http_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.api_route(GIT_PATH, methods=["GET", "POST"])
    async def smart_http(namespace: str, name: str, rest: str, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if state.role(basic_password(header) or "") is None:
            return Response("HTTP Basic: Access denied\n", status_code=401,
                            headers={"WWW-Authenticate": 'Basic realm="GitLab"'})
        state.auth_headers.append(header)
        if is_push(rest, request):
            return Response("push through the commits API; git push is not emulated\n", status_code=403)
        project = next((p for p in state.projects.values() if p.path_with_namespace == f"{namespace}/{name}"), None)
        if project is None:
            raise not_found("Project")
        bare = project.repo.path
        return await serve_git(request, bare.parent, f"/{bare.name}/{rest}")
