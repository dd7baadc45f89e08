"""The GitHub emulator's HTTP surface: every REST endpoint the client uses (served at the API root, as
api.github.com does), `POST /graphql` for the one mutation the client sends, git smart HTTP at
`/{owner}/{repo}.git`, and `/_emulator/...` to seed repositories, manage tokens and arm faults. Handlers are
`async def` without awaits, so the event loop runs them one at a time: each request is atomic."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tests.emulators.common.faults import Fault, FaultMiddleware
from tests.emulators.github import shapes
from tests.emulators.github.errors import GitHubHttpError, error_body, invalid, not_found
from tests.emulators.github.faults import refuse, slow_headers
from tests.emulators.github.git_http import git_http_routes
from tests.emulators.github.graphql import graphql_routes
from tests.emulators.github.pull_routes import pull_routes
from tests.emulators.github.state import GitHubState

API_VERSION = "2022-11-28"
GIT_HTTP = re.compile(r"^/[^/]+/[^/]+\.git/")  # git smart HTTP authenticates itself (git_http.py)
REPO = "/repos/{owner}/{name}"
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


def create_app(state: GitHubState) -> Any:
    app = FastAPI(title="GitHub emulator")
    app.state.emulator = state

    @app.exception_handler(GitHubHttpError)
    async def github_error(_: Request, exc: GitHubHttpError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, "Not Found" if exc.status_code == 404 else str(exc.detail)),
                            status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(400, f"Problems parsing JSON: {exc.errors()[0].get('msg', '')}"),
                            status_code=400)

    @app.middleware("http")
    async def gatekeeper(request: Request, call_next: Any) -> Response:
        """What GitHub checks before any handler: credentials, their write access and the API version; every
        authenticated answer carries the rate-limit headers."""
        path = request.url.path
        if path.startswith("/_emulator") or GIT_HTTP.match(path):
            return await call_next(request)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            return JSONResponse(error_body(401, "Requires authentication"), status_code=401)
        if token not in state.tokens | state.read_only_tokens:
            return JSONResponse(error_body(401, "Bad credentials"), status_code=401)
        state.auth_headers.append(header)
        version = request.headers.get("x-github-api-version")
        if version is not None and version != API_VERSION:
            return JSONResponse(error_body(400, f"Unsupported 'X-GitHub-Api-Version' header: {version}"),
                                status_code=400)
        state.api_versions.append(version or "")
        state.rate_used += 1
        if request.method in WRITE_METHODS and token in state.read_only_tokens:
            response: Response = JSONResponse(error_body(403, "Resource not accessible by personal access token"),
                                              status_code=403)
        else:
            response = await call_next(request)
        response.headers.update(state.rate_headers())
        return response

    _admin_routes(app, state)
    _repo_routes(app, state)
    _git_data_routes(app, state)
    pull_routes(app, state)
    graphql_routes(app, state)
    git_http_routes(app, state)
    return FaultMiddleware(app, state.faults, refuse=refuse, slow_headers=slow_headers)


def _admin_routes(app: FastAPI, state: GitHubState) -> None:
    @app.post("/_emulator/repos")
    async def seed_repo(body: dict[str, Any]) -> dict[str, Any]:
        repo = state.create_repo(body["name"], body.get("files", {}), body.get("owner"))
        return {"id": repo.id, "full_name": repo.full_name, "head": repo.tip("main")}

    @app.post("/_emulator/tokens")
    async def add_token(body: dict[str, Any]) -> dict[str, str]:
        (state.read_only_tokens if body.get("read_only") else state.tokens).add(str(body["token"]))
        return {"token": str(body["token"])}

    @app.post("/_emulator/settings")
    async def settings(body: dict[str, Any]) -> dict[str, int]:
        state.max_per_page = int(body.get("max_per_page", state.max_per_page))
        return {"max_per_page": state.max_per_page}

    @app.post("/_emulator/faults")
    async def arm_faults(faults: list[Fault]) -> dict[str, int]:
        state.faults.arm(faults)
        return {"pending": state.faults.pending()}

    @app.delete("/_emulator/faults")
    async def clear_faults() -> dict[str, int]:
        state.faults.clear()
        return {"pending": 0}


def _repo_routes(app: FastAPI, state: GitHubState) -> None:
    @app.get("/repositories/{repo_id}")
    async def get_repository_by_id(repo_id: int) -> dict[str, Any]:
        return shapes.repository(state, state.repo_by_id(repo_id))

    @app.get(REPO)
    async def get_repository(owner: str, name: str) -> dict[str, Any]:
        return shapes.repository(state, state.repo(owner, name))

    @app.get(REPO + "/git/ref/{ref:path}")
    async def get_ref(owner: str, name: str, ref: str) -> dict[str, Any]:
        repo = state.repo(owner, name)
        sha = repo.git.rev(f"refs/{ref}") if ref.startswith(("heads/", "tags/")) else None
        if sha is None:
            raise not_found()
        return shapes.ref(state, repo, f"refs/{ref}", sha)

    @app.post(REPO + "/git/refs", status_code=201)
    async def create_ref(owner: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
        if not ref.startswith("refs/") or ref.count("/") < 2 or not repo.valid_ref_name(ref):
            raise invalid("Reference", f"{ref} is not a valid ref name.", field="ref", code="invalid")
        if repo.object_type(sha) != "commit":
            raise invalid("Reference", "Object does not exist", field="sha", code="invalid")
        if not repo.swap_ref(ref, sha, None):
            raise invalid("Reference", "Reference already exists", field="ref", code="already_exists")
        state.writes.append(f"POST {ref}")
        return shapes.ref(state, repo, ref, sha)

    @app.patch(REPO + "/git/refs/{ref:path}")
    async def update_ref(owner: str, name: str, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        full, sha = f"refs/{ref}", str(body.get("sha", ""))
        current = repo.git.rev(full)
        if current is None:
            raise invalid("Reference", "Reference does not exist", field="ref", code="invalid")
        if repo.object_type(sha) != "commit":
            raise invalid("Reference", "Object does not exist", field="sha", code="invalid")
        if not body.get("force") and not repo.is_ancestor(current, sha):
            raise invalid("Reference", "Update is not a fast forward", field="sha", code="invalid")
        if current != sha:
            repo.swap_ref(full, sha, current)
            state.writes.append(f"PATCH {full}")
        return shapes.ref(state, repo, full, sha)


def _git_data_routes(app: FastAPI, state: GitHubState) -> None:
    @app.post(REPO + "/git/blobs", status_code=201)
    async def create_blob(owner: str, name: str, body: dict[str, Any]) -> dict[str, str]:
        repo = state.repo(owner, name)
        encoding, content = body.get("encoding", "utf-8"), body.get("content")
        if not isinstance(content, str):
            raise invalid("Blob", "content is missing", field="content", code="missing_field")
        if encoding == "base64":
            raise GitHubHttpError(422, "The GitHub emulator does not support base64 blobs; send utf-8 text.")
        if encoding != "utf-8":
            raise invalid("Blob", f"encoding {encoding!r} is not utf-8 or base64", field="encoding", code="invalid")
        sha = repo.write_blob(content)
        return {"url": state.api(f"repos/{repo.full_name}/git/blobs/{sha}"), "sha": sha}

    @app.post(REPO + "/git/trees", status_code=201)
    async def create_tree(owner: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        entries = body.get("tree")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise invalid("Tree", "tree is missing", field="tree", code="missing_field")
        return shapes.tree(state, repo, repo.write_tree(body.get("base_tree"), entries))

    @app.post(REPO + "/git/commits", status_code=201)
    async def create_commit(owner: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        if body.get("author") or body.get("committer") or body.get("signature"):
            raise GitHubHttpError(422, "The GitHub emulator does not support author, committer or signature; "
                                       "commits are made as the token's account.")
        message, tree, parents = body.get("message"), str(body.get("tree", "")), body.get("parents") or []
        if not isinstance(message, str):
            raise invalid("Commit", "message is missing", field="message", code="missing_field")
        return shapes.commit(state, repo, repo.write_commit(message, tree, [str(p) for p in parents]))
