"""What every SCM-writing role derives the same way: its adapter, its idempotency keys, the dev result."""

from __future__ import annotations

import os

from pydantic import ValidationError

from include.agents.errors import AgentError
from include.contracts import AgentTask, DevResult, Ticket
from include.scm import ScmAdapter, adapter_for


def scm_kind() -> str:
    """The tenant's forge (`local`, `ado`, `github`, `gitlab`): the runner passes it in TICKETPILOT_SCM_KIND
    (default: the local forge)."""
    return os.environ.get("TICKETPILOT_SCM_KIND", "local")


def scm_for(ticket: Ticket) -> ScmAdapter:
    """The tenant's adapter, bound to the ticket's repository."""
    return adapter_for(ticket.tenant, scm_kind(), repo=ticket.repo)


def idempotency_key(ticket: Ticket, role: str, *parts: str) -> str:
    """Derived from the ticket revision, never from time or try number, so a retried or resumed step finds
    the branch, commit, PR or comment it made before instead of making a second one."""
    return ":".join([ticket.ticket_key, role, f"r{ticket.rev}", *parts])


def dev_result(task: AgentTask) -> DevResult:
    """The Dev step's result (branch, PR) that every later step works on."""
    data = task.upstream.get("dev")
    if data is None:
        raise AgentError(
            f"the {task.role.value} step of {task.ticket.ticket_key} needs the dev step's result in "
            "task.upstream['dev'] (branch and PR id); run the dev step first"
        )
    try:
        return DevResult.model_validate(data)
    except ValidationError as exc:
        raise AgentError(f"task.upstream['dev'] is not a valid dev result: {exc}") from exc
