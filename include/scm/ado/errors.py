"""Typed failures of the Azure DevOps client. They subclass ScmError because the retry layer has already
spent its budget (or the failure is not transient) by the time one reaches a caller."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from include.scm.ado.models import AdoErrorBody
from include.scm.base import ScmError


class AdoError(ScmError):
    """A non-success answer from Azure DevOps, carrying the parts of its error body worth branching on."""

    def __init__(self, status: int, message: str, *, type_key: str = "", error_code: int = 0) -> None:
        self.status = status
        self.type_key = type_key
        self.error_code = error_code
        self.message = message
        detail = f" [{type_key}]" if type_key else ""
        super().__init__(f"Azure DevOps answered {status}{detail}: {message}")


class StaleRevision(AdoError):
    """The work item moved past the revision we read (HTTP 412): re-read it and decide again."""


class RetryBudgetExceeded(AdoError):
    """Throttling or outages outlasted the configured total wait; the call was not (knowingly) applied."""


def error_from_response(response: httpx.Response) -> AdoError:
    """Parse ADO's error body ({"$id", "innerException", "message", "typeName", "typeKey", ...})."""
    try:
        body = AdoErrorBody.model_validate(response.json())
        message, type_key, code = body.message, body.type_key, body.error_code
    except (ValueError, ValidationError):
        message, type_key, code = response.text[:500] or response.reason_phrase, "", 0
    cls = StaleRevision if response.status_code == 412 else AdoError
    return cls(response.status_code, message, type_key=type_key, error_code=code)
