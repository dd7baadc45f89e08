"""The audit trail of isolation: every step that ran repository code records which isolation it got, so a
degraded sandbox (no bubblewrap on that worker) is visible after the fact, not only in one task log."""

from __future__ import annotations

import logging

from include.sandbox.sandbox import Sandbox
from include.settings import Settings
from include.store import audit
from include.store.db import connect

log = logging.getLogger(__name__)

ACTION = "sandbox.isolation"


def record_isolation(subject: str, step: str, sandbox: Sandbox) -> None:
    """Append the step's isolation to the audit log; log it instead where the step has no database."""
    details = {"step": step, "isolation": sandbox.isolation.value,
               "venv": sandbox.venv.name if sandbox.venv is not None else None}
    db_url = Settings.from_env().db_url
    if not db_url:
        log.warning("%s %s ran repository code with isolation %r (no database configured to audit it)",
                    subject, step, sandbox.isolation.value)
        return
    with connect(db_url) as conn:
        audit.append_for_ticket(conn, subject, actor=f"agent-{step}", action=ACTION, details=details)
