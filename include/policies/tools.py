"""The tool decision (include/policies/rego/tools.rego): may the tool-using loop call this tool, or run this
program, in this tenant's repository. A refusal goes back to the model as the reason and to the audit log."""

from __future__ import annotations

import logging
import re
import shlex
from typing import Any

from include.policies.tenant_bundles import engine_for
from include.settings import Settings

log = logging.getLogger(__name__)
_VERSION_SUFFIX = re.compile(r"(?<=[a-z])3(?:\.\d+)*$")


def program_of(command: str) -> str:
    """The program a command line starts, without its directory or a version suffix (`python3.11` → python)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command.strip().split(" ", 1)[0]
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    return _VERSION_SUFFIX.sub("", program)


def tool_refusal(tenant: str, repo: str, tool: str, arguments: dict[str, Any]) -> str | None:
    """Why the call may not run, or None."""
    program = program_of(str(arguments.get("command", ""))) if tool == "run_command" else ""
    decided = engine_for(tenant).decide("tool", {"tool": tool, "program": program, "repo": repo})
    return None if decided["allow"] else "; ".join(decided["reasons"])


def audit_refusal(ticket_key: str, step: str, tool: str, reason: str) -> None:
    """The refusal in the ticket's tenant chain; logged instead where the step has no database."""
    db_url = Settings.from_env().db_url
    if not db_url:
        log.warning("%s: tool %s refused: %s (no database configured to audit it)", ticket_key, tool, reason)
        return
    from include.store import audit
    from include.store.db import connect

    with connect(db_url) as conn, conn.transaction():
        audit.append_for_ticket(conn, ticket_key, actor=f"agent-{step}", action="policy.tool_refused",
                                details={"tool": tool, "reason": reason})
