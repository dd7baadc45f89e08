"""Git's smart HTTP protocol for the emulator's repositories (see tests/emulators/common/git_http.py) at ADO's
own remote URL shape `/{org}/{project}/_git/{repo}`. Clones and fetches are read-only: like ADO, a request
without credentials gets a 401, and writes go through the pushes API. Each credential seen is recorded, so
tests can prove that `git` sent the token in a header rather than finding it in a config file."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.ado.state import EmulatorState
from tests.emulators.common.git_http import is_push, serve_git

GIT_PATH = "/{org}/{project}/_git/{repo}/{rest:path}"


def git_http_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.api_route(GIT_PATH, methods=["GET", "POST"])
    async def smart_http(project: str, repo: str, rest: str, request: Request) -> Response:
        state.project_of(project)  # TF200016 (404) for a project that does not exist
        header = request.headers.get("authorization", "")
        if not header.startswith(("Basic ", "Bearer ")):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="emulator"'})
        state.auth_headers.append(header)
        if is_push(rest, request):
            return Response("push through the pushes REST API; git push is not emulated\n", status_code=403)
        bare = state.repo(repo, project).git.path
        return await serve_git(request, bare.parent, f"/{bare.name}/{rest}")
