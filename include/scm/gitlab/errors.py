"""Typed failures of the GitLab client. They subclass ScmError because the retry layer has already spent its
budget (or the failure is not transient) by the time one reaches a caller."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from include.scm.base import ScmError
from include.scm.gitlab.models import ErrorBody


class GitLabError(ScmError):
    """A non-success answer from GitLab, with its status and the message GitLab gave."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"GitLab answered {status}: {message}")


class OutcomeUnknown(GitLabError):
    """A write that is not safe to replay lost its answer (broken connection, 502/504): it may or may not
    have been applied, so the caller must look for its own effect before trying again."""


class RetryBudgetExceeded(GitLabError):
    """Throttling or outages outlasted the configured total wait; the call was not (knowingly) applied."""


def error_from_response(response: httpx.Response) -> GitLabError:
    """Flatten GitLab's error body into one line: `{"message": {"title": ["can't be blank"]}}` reads
    `title can't be blank`; a body that is not JSON (a proxy's page, "Retry later") is quoted as text."""
    try:
        body = ErrorBody.model_validate(response.json())
    except (ValueError, ValidationError):
        return GitLabError(response.status_code, response.text.strip()[:500] or response.reason_phrase)
    message = body.message if body.message is not None else body.error or body.error_description
    return GitLabError(response.status_code, _flatten(message) or response.reason_phrase)


def _flatten(message: object) -> str:
    if isinstance(message, dict):
        return "; ".join(f"{key} {_flatten(value)}" for key, value in message.items())
    if isinstance(message, list):
        return ", ".join(_flatten(item) for item in message)
    return "" if message is None else str(message)
