"""Git's smart HTTP protocol for the emulator's repositories (see tests/emulators/common/git_http.py) at
GitHub's clone URL shape `/{owner}/{repo}.git`. Clones and fetches only: writes go through the Git Data API.
Like GitHub for a private repository, git must authenticate with HTTP Basic whose password is a valid token
(any user name, conventionally `x-access-token`); every credential seen is recorded, so tests can prove the
token travelled in a header."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.common.git_http import basic_password, is_push, serve_git
from tests.emulators.github.state import GitHubState

GIT_PATH = "/{owner}/{name}.git/{rest:path}"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitHub"'}


def git_http_routes(app: FastAPI, state: GitHubState) -> None:
    @app.api_route(GIT_PATH, methods=["GET", "POST"])
    async def smart_http(owner: str, name: str, rest: str, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if basic_password(header) not in state.tokens | state.read_only_tokens:
            return Response("Invalid username or token.\n", status_code=401, headers=_CHALLENGE)
        state.auth_headers.append(header)
        if is_push(rest, request):
            return Response("git push is not emulated: write through the Git Data API\n", status_code=403)
        repo = state.repo(owner, name)
        return await serve_git(request, state.root, f"/{repo.owner}/{repo.name}.git/{rest}")
