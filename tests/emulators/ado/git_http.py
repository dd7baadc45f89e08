"""Git's smart HTTP protocol for the emulator's repositories, served by `git http-backend` (CGI) at ADO's own
remote URL shape `/{org}/{project}/_git/{repo}`. Clones and fetches are read-only: like ADO, a request
without credentials gets a 401, and writes go through the pushes API. Each credential seen is recorded, so
tests can prove that `git` sent the token in a header rather than finding it in a config file."""

from __future__ import annotations

import subprocess

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.state import EmulatorState

GIT_PATH = "/{org}/{project}/_git/{repo}/{rest:path}"


def git_http_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.api_route(GIT_PATH, methods=["GET", "POST"])
    async def smart_http(project: str, repo: str, rest: str, request: Request) -> Response:
        if project != state.project:
            raise AdoHttpError(404, f"TF200016: The following project does not exist: {project}.",
                               "ProjectDoesNotExistWithNameException", 200016)
        header = request.headers.get("authorization", "")
        if not header.startswith(("Basic ", "Bearer ")):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="emulator"'})
        state.auth_headers.append(header)
        if "git-receive-pack" in rest or request.query_params.get("service") == "git-receive-pack":
            return Response("push through the pushes REST API; git push is not emulated\n", status_code=403)
        bare = state.repo(repo).git.path
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
        return _cgi_response(proc.stdout)


def _cgi_response(output: bytes) -> Response:
    """Split a CGI answer into status, headers and body."""
    head, sep, body = output.partition(b"\r\n\r\n")
    if not sep:
        head, _, body = output.partition(b"\n\n")
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers[name] = value.strip()
    return Response(body, status_code=status, headers=headers)
