"""GitLab's offset pagination: `page`/`per_page` in (20 by default, at most 100), and `X-Page`, `X-Per-Page`,
`X-Total`, `X-Total-Pages`, `X-Next-Page`, `X-Prev-Page` and a `Link` header out."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from tests.emulators.gitlab.errors import GitLabHttpError


def paged(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    try:
        per_page = min(100, max(1, int(request.query_params.get("per_page", 20))))
        page = max(1, int(request.query_params.get("page", 1)))
    except ValueError as exc:
        raise GitLabHttpError(400, error="page is invalid, per_page is invalid") from exc
    pages = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    following = str(page + 1) if page < pages else ""
    previous = str(page - 1) if 1 < page <= pages + 1 else ""
    links = {"next": following, "prev": previous, "first": "1", "last": str(pages)}
    link = ", ".join(f'<{request.url.include_query_params(page=n, per_page=per_page)}>; rel="{rel}"'
                     for rel, n in links.items() if n)
    headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
               "X-Total-Pages": str(pages), "X-Next-Page": following, "X-Prev-Page": previous, "Link": link}
    return JSONResponse(chunk, headers=headers)
