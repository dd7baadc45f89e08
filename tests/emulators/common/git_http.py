"""Git's smart HTTP for the emulators, served by `git http-backend` (CGI) from the emulator's bare
repositories. Each emulator keeps its own URL shape and authentication; what runs the CGI, refuses pushes
(writes go through each forge's REST API) and reads a Basic password is shared."""

from __future__ import annotations

import base64
import binascii
import subprocess
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response


def is_push(rest: str, request: Request) -> bool:
    return "git-receive-pack" in rest or request.query_params.get("service") == "git-receive-pack"


def basic_password(header: str) -> str | None:
    """The password of an HTTP Basic `Authorization` header (where forges take tokens), None for any other."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode().partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return None


async def serve_git(request: Request, root: Path, path_info: str) -> Response:
    """Answer a clone or fetch: `path_info` is the bare repository's path under `root`, then the URL's rest."""
    env = {
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "QUERY_STRING": request.url.query,
        "REQUEST_METHOD": request.method,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "HTTP_CONTENT_ENCODING": request.headers.get("content-encoding", ""),
        "GIT_PROTOCOL": request.headers.get("git-protocol", ""),
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    proc = subprocess.run(["git", "http-backend"], input=await request.body(), env=env, capture_output=True,
                          check=False)
    return cgi_response(proc.stdout)


def cgi_response(output: bytes) -> Response:
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
