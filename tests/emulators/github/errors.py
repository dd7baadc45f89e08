"""GitHub's error envelope, so the client under test parses the same shapes the service sends:
{"message", "documentation_url", "status"} and, for validation failures (422), an `errors` list."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

DOCS = "https://docs.github.com/rest"


def error_body(status: int, message: str, errors: list[dict[str, str]] | None = None,
               documentation_url: str = DOCS) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "documentation_url": documentation_url, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return body


class GitHubHttpError(Exception):
    """Raised by emulator handlers; rendered as GitHub's error body with `status`."""

    def __init__(self, status: int, message: str, *, errors: list[dict[str, str]] | None = None,
                 documentation_url: str = DOCS) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(status, message, errors, documentation_url)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def not_found() -> GitHubHttpError:
    return GitHubHttpError(404, "Not Found")


def invalid(resource: str, message: str, *, field: str = "", code: str = "custom") -> GitHubHttpError:
    """A 422 "Validation Failed" with one error entry, GitHub's shape for rejected input."""
    error = {"resource": resource, "code": code, "message": message}
    if field:
        error["field"] = field
    return GitHubHttpError(422, "Validation Failed", errors=[error])


def unsupported(what: str) -> GitHubHttpError:
    """A request GitHub would serve but the emulator does not: a clear 422, never a silent approximation."""
    return GitHubHttpError(422, f"The GitHub emulator does not support {what}.")
