"""GitLab's error bodies, so the client under test parses the shapes the service sends: `{"message": ...}` from
the API (a string, a list, or a field → messages hash) and `{"error": ...}` from parameter validation and
unknown routes."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class GitLabHttpError(Exception):
    """Raised by emulator handlers; rendered as GitLab's error body with `status`."""

    def __init__(self, status: int, message: str | list[str] | dict[str, Any] | None = None, *,
                 error: str | None = None) -> None:
        super().__init__(str(message or error))
        self.status = status
        self.body: dict[str, Any] = {"error": error} if error is not None else {"message": message}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def not_found(what: str) -> GitLabHttpError:
    """`404 Project Not Found`, `404 Branch Not Found`, ... as GitLab words them."""
    return GitLabHttpError(404, f"404 {what} Not Found")


def unsupported(feature: str) -> GitLabHttpError:
    """A real GitLab feature this emulator does not implement: a loud 400, never a silent success."""
    return GitLabHttpError(400, f"the GitLab emulator does not support {feature}")
