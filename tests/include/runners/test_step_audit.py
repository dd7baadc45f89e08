"""An agent step's audit row: metadata only, in the ticket's tenant chain; no database, no failure."""

from __future__ import annotations

import logging

import psycopg
import pytest

from include.contracts import AgentRole, AgentTask, ChangeKind, RiskClass, Ticket
from include.runners.step_audit import audit_step, step_metadata
from include.store import audit


def a_task() -> AgentTask:
    ticket = Ticket(tenant="alpha", workitem_id=4, rev=1, title="Fix the total", work_item_type="Bug", repo="shop",
                    change_kind=ChangeKind.LINT_FIX, risk_class=RiskClass.R1)
    return AgentTask(role=AgentRole.DEV, ticket=ticket, run_id="manual__1", try_number=2)


def test_metadata_keeps_flags_numbers_and_short_text_and_counts_the_rest() -> None:
    result = {"ok": True, "pr_id": 7, "branch": "tp/alpha-4", "summary": "Fixed", "files_changed": ["a", "b"],
              "transcript": "x" * 5000, "checklist": [{"text": "..."}], "proposed_by": None}
    assert step_metadata(result) == {"ok": True, "pr_id": 7, "branch": "tp/alpha-4", "summary": "Fixed",
                                     "files_changed_count": 2, "checklist_count": 1, "proposed_by": None}


def test_a_step_is_appended_to_its_tenants_chain(db: psycopg.Connection) -> None:
    audit_step(a_task(), {"ok": True, "pr_id": 7, "diff": "+secret\n" * 100})
    [row] = db.execute("SELECT chain, actor, action, subject, details FROM ticketpilot.audit_log").fetchall()
    assert (row["chain"], row["actor"], row["action"], row["subject"]) == ("alpha", "agent-dev", "agent.dev",
                                                                            "alpha-4")
    assert row["details"] == {"run_id": "manual__1", "try_number": 2, "ok": True, "pr_id": 7}
    assert audit.verify(db, tenant="alpha").ok


def test_without_a_database_the_step_logs_instead(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("TICKETPILOT_DB_URL", raising=False)
    with caplog.at_level(logging.WARNING):
        audit_step(a_task(), {"ok": False, "error": "tests failed"})
    assert "agent.dev on alpha-4" in caplog.text and "no database configured" in caplog.text
