"""Git's smart HTTP protocol for the emulator's repositories at GitHub's clone URL shape
`/{owner}/{repo}.git`, served by `git http-backend` (CGI; the CGI answer is split by the ADO emulator's
helper). Clones and fetches only: writes go through the Git Data API. Like GitHub for a private repository,
git must authenticate with HTTP Basic whose password is a valid token (any user name, conventionally
`x-access-token`); every credential seen is recorded, so tests can prove the token travelled in a header."""

from __future__ import annotations

import base64
import binascii
import subprocess

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.ado.git_http import _cgi_response
from tests.emulators.github.state import GitHubState

GIT_PATH = "/{owner}/{name}.git/{rest:path}"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitHub"'}


def git_http_routes(app: FastAPI, state: GitHubState) -> None:
    @app.api_route(GIT_PATH, methods=["GET", "POST"])
    async def smart_http(owner: str, name: str, rest: str, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if _basic_password(header) not in state.tokens | state.read_only_tokens:
            return Response("Invalid username or token.\n", status_code=401, headers=_CHALLENGE)
        state.auth_headers.append(header)
        if "git-receive-pack" in rest or request.query_params.get("service") == "git-receive-pack":
            return Response("git push is not emulated: write through the Git Data API\n", status_code=403)
        repo = state.repo(owner, name)
        env = {
            "GIT_PROJECT_ROOT": str(state.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.owner}/{repo.name}.git/{rest}",
            "QUERY_STRING": request.url.query,
            "REQUEST_METHOD": request.method,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("content-encoding", ""),
            "GIT_PROTOCOL": request.headers.get("git-protocol", ""),
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        proc = subprocess.run(["git", "http-backend"], input=await request.body(), env=env,
                              capture_output=True, check=False)
        return _cgi_response(proc.stdout)


def _basic_password(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode().partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return None
