"""Git's smart HTTP for the emulator's projects at GitLab's own remote URL shape `/{namespace}/{name}.git`,
served by `git http-backend` through the ADO emulator's CGI adapter. Like GitLab with a private project, a
fetch needs HTTP Basic with an access token as password (any user name); pushes are refused, since writes go
through the commits API. Each credential seen is recorded, so tests can prove that git sent the token in a
header rather than finding it in a config file."""

from __future__ import annotations

import base64
import binascii
import subprocess

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.ado.git_http import _cgi_response as cgi_response
from tests.emulators.gitlab.errors import not_found
from tests.emulators.gitlab.state import EmulatorState

GIT_PATH = "/{namespace}/{name}.git/{rest:path}"


def git_http_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.api_route(GIT_PATH, methods=["GET", "POST"])
    async def smart_http(namespace: str, name: str, rest: str, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if state.role(_basic_password(header)) is None:
            return Response("HTTP Basic: Access denied\n", status_code=401,
                            headers={"WWW-Authenticate": 'Basic realm="GitLab"'})
        state.auth_headers.append(header)
        if "git-receive-pack" in rest or request.query_params.get("service") == "git-receive-pack":
            return Response("push through the commits API; git push is not emulated\n", status_code=403)
        project = next((p for p in state.projects.values() if p.path_with_namespace == f"{namespace}/{name}"), None)
        if project is None:
            raise not_found("Project")
        bare = project.repo.path
        env = {
            "GIT_PROJECT_ROOT": str(bare.parent),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{bare.name}/{rest}",
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
        return cgi_response(proc.stdout)


def _basic_password(header: str) -> str:
    if not header.startswith("Basic "):
        return ""
    try:
        return base64.b64decode(header[6:]).decode().partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return ""
