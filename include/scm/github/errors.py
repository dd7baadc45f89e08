"""Typed failures of the GitHub client. They subclass ScmError because by the time one reaches a caller the
retry layer has spent its budget, or the failure is one a retry will not fix."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from include.scm.base import ScmError
from include.scm.errors import error_mapper
from include.scm.github.models import ErrorBody, ErrorDetail

HINTS = {
    401: "The token was refused: renew it (PAT or GitHub App installation token) in the tenant's Airflow "
    "connection github_<tenant>.",
    403: "The token lacks permission or is rate limited: it needs Contents, Pull requests and Commit statuses "
    "(read and write) on the repository; if it has them, retry the task later.",
    404: "Check that the repository, branch or pull request exists and that the token can see it (GitHub "
    "answers 404, not 403, for a private repository the token cannot read).",
    405: "GitHub will not merge it as it stands (draft, conflicts or required checks); fix that on the pull "
    "request, then retry.",
    409: "Someone changed it concurrently: retry the task.",
    422: "GitHub rejected the request as invalid; the detail names the field.",
    429: "GitHub is rate limiting this token: retry the task later.",
    503: "GitHub is unavailable: retry the task later.",
}


class GitHubError(ScmError):
    """A non-success answer from GitHub, with the parts of its error body worth branching on."""

    def __init__(self, status: int, message: str, *, details: list[str] | None = None,
                 documentation_url: str = "") -> None:
        self.status = status
        self.message = message
        self.details = details or []
        self.documentation_url = documentation_url
        detail = f" ({'; '.join(self.details)})" if self.details else ""
        super().__init__(f"GitHub answered {status}: {message}{detail}")

    def mentions(self, text: str) -> bool:
        """Whether the message or a detail contains `text` (case-insensitive): GitHub's 422s differ only there."""
        needle = text.lower()
        return any(needle in part.lower() for part in (self.message, *self.details))


class RetryBudgetExceeded(GitHubError):
    """Rate limits or outages outlasted the configured total wait; the call was not (knowingly) applied."""


def error_from_response(response: httpx.Response) -> GitHubError:
    """Parse {"message", "errors": [{"resource", "field", "code", "message"} | str], "documentation_url"}."""
    try:
        body = ErrorBody.model_validate(response.json())
        details = [_detail(e) for e in body.errors]
        return GitHubError(response.status_code, body.message, details=[d for d in details if d],
                           documentation_url=body.documentation_url)
    except (ValueError, ValidationError):
        return GitHubError(response.status_code, response.text[:500] or response.reason_phrase)


def _detail(error: ErrorDetail | str) -> str:
    if isinstance(error, str):
        return error
    if error.message:
        return error.message
    return " ".join(part for part in (error.resource, error.field, error.code) if part)


# Turn a raw GitHubError (or a broken connection) into a ScmError saying what was being done and what to do.
mapped = error_mapper("GitHub", GitHubError, HINTS, transport=True)
