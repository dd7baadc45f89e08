"""Every agent step in the tenant's audit chain: who ran, on which ticket and try, and how it ended.

Metadata only: the result's flags, numbers and short strings (branch, commit, risk class, one-line summary),
list fields as counts; never a diff, a transcript or a model's text. A step without a database (a unit test,
a dry run) logs instead of failing: the step's outcome must not depend on its audit row's transport.
"""

from __future__ import annotations

import logging
from typing import Any

from include.contracts import AgentTask
from include.settings import Settings
from include.store import audit
from include.store.db import connect

log = logging.getLogger(__name__)
_MAX_TEXT = 300


def step_metadata(result: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, bool | int | float) or value is None:
            kept[key] = value
        elif isinstance(value, str) and len(value) <= _MAX_TEXT:
            kept[key] = value
        elif isinstance(value, list | tuple | dict):
            kept[f"{key}_count"] = len(value)
    return kept


def audit_step(task: AgentTask, result: dict[str, Any]) -> None:
    """Append `agent.<role>` to the ticket's tenant chain."""
    details = {"run_id": task.run_id, "try_number": task.try_number, **step_metadata(result)}
    db_url = Settings.from_env().db_url
    if not db_url:
        log.warning("agent.%s on %s: %s (no database configured to audit it)", task.role.value,
                    task.ticket.ticket_key, details)
        return
    with connect(db_url) as conn, conn.transaction():
        audit.append(conn, actor=f"agent-{task.role.value}", action=f"agent.{task.role.value}",
                     subject=task.ticket.ticket_key, tenant=task.ticket.tenant, details=details)
