"""Routes for pull requests, their issue and review comments, and commit statuses (logic in pulls.py)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.emulators.github import pulls, shapes
from tests.emulators.github.errors import invalid
from tests.emulators.github.state import GitHubState, now

REPO = "/repos/{owner}/{name}"


def pull_routes(app: FastAPI, state: GitHubState) -> None:
    @app.get(REPO + "/pulls")
    async def list_pulls(owner: str, name: str, request: Request) -> JSONResponse:
        repo = state.repo(owner, name)
        found = pulls.list_pulls(state, repo, dict(request.query_params))
        return paginated(request, state, [shapes.pull(state, repo, pr, full=False) for pr in found])

    @app.post(REPO + "/pulls", status_code=201)
    async def create_pull(owner: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        pr = pulls.open_pull(state, repo, body)
        state.writes.append(f"POST pull {repo.full_name}#{pr['number']}")
        return shapes.pull(state, repo, pr)

    @app.get(REPO + "/pulls/{number}")
    async def get_pull(owner: str, name: str, number: int) -> dict[str, Any]:
        repo = state.repo(owner, name)
        return shapes.pull(state, repo, state.pull(repo, number))

    @app.patch(REPO + "/pulls/{number}")
    async def update_pull(owner: str, name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        pr = pulls.update_pull(state, repo, state.pull(repo, number), body)
        state.writes.append(f"PATCH pull {repo.full_name}#{number}")
        return shapes.pull(state, repo, pr)

    @app.put(REPO + "/pulls/{number}/merge")
    async def merge_pull(owner: str, name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        result = pulls.merge_pull(state, repo, state.pull(repo, number), body)
        state.writes.append(f"PUT merge {repo.full_name}#{number}")
        return result

    @app.get(REPO + "/issues/{number}/comments")
    async def list_issue_comments(owner: str, name: str, number: int, request: Request) -> JSONResponse:
        repo = state.repo(owner, name)
        state.pull(repo, number)
        return paginated(request, state, state.issue_comments[(repo.full_name, number)])

    @app.post(REPO + "/issues/{number}/comments", status_code=201)
    async def create_issue_comment(owner: str, name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        state.pull(repo, number)
        if not body.get("body"):
            raise invalid("IssueComment", "body is missing", field="body", code="missing_field")
        comment = shapes.issue_comment(state, repo, number, state.next_id(), str(body["body"]), now())
        state.issue_comments[(repo.full_name, number)].append(comment)
        state.writes.append(f"POST issue comment {comment['id']}")
        return comment

    @app.get(REPO + "/pulls/{number}/comments")
    async def list_review_comments(owner: str, name: str, number: int, request: Request) -> JSONResponse:
        repo = state.repo(owner, name)
        state.pull(repo, number)
        return paginated(request, state, state.review_comments[(repo.full_name, number)])

    @app.post(REPO + "/pulls/{number}/comments", status_code=201)
    async def create_review_comment(owner: str, name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        comment = pulls.add_review_comment(state, repo, state.pull(repo, number), body)
        state.writes.append(f"POST review comment {comment['id']}")
        return comment

    @app.post(REPO + "/statuses/{sha}", status_code=201)
    async def create_status(owner: str, name: str, sha: str, body: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(owner, name)
        status = pulls.add_status(state, repo, sha, body)
        state.writes.append(f"POST status {status['id']}")
        return status

    @app.get(REPO + "/commits/{ref:path}/status")
    async def combined_status(owner: str, name: str, ref: str, request: Request) -> dict[str, Any]:
        query = request.query_params
        per_page = max(1, min(int(query.get("per_page", 30)), state.max_per_page))
        return pulls.combined_status(state, state.repo(owner, name), ref, max(1, int(query.get("page", 1))), per_page)


def paginated(request: Request, state: GitHubState, items: list[Any]) -> JSONResponse:
    """One page of `items` with GitHub's `Link` header (rel next/last/first/prev)."""
    query = request.query_params
    per_page = max(1, min(int(query.get("per_page", 30)), state.max_per_page))
    page = max(1, int(query.get("page", 1)))
    last = max(1, math.ceil(len(items) / per_page))
    rels = {"next": page + 1, "last": last} if page < last else {}
    rels |= {"first": 1, "prev": page - 1} if page > 1 else {}
    links = ", ".join(f'<{request.url.include_query_params(page=n)}>; rel="{rel}"' for rel, n in rels.items())
    return JSONResponse(items[(page - 1) * per_page: page * per_page], headers={"Link": links} if links else None)
