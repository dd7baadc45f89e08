"""The local runner, run for real: the agent entrypoint as a child process, its result file, its exit codes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from include.contracts import AgentRole, AgentTask, ChangeKind, RiskClass, Ticket
from include.demo.repo import demo_repo_files
from include.runners import local
from include.scm.local import LocalForge

TICKET = Ticket(tenant="demo", workitem_id=5, rev=1, title="Fix lint: remove unused imports", repo="svc",
                change_kind=ChangeKind.LINT_FIX, risk_class=RiskClass.R0, acceptance_criteria=["ruff is clean"])


def task(role: AgentRole, ticket: Ticket = TICKET) -> str:
    return AgentTask(role=role, ticket=ticket, run_id="manual__1").model_dump_json()


def test_po_result_comes_back_validated_and_logged(db: object, forge_dir: Path, caplog: pytest.LogCaptureFixture
                                                   ) -> None:
    LocalForge.from_settings(TICKET.tenant).create_repo(TICKET.repo, demo_repo_files())  # PO checks it
    caplog.set_level(logging.INFO)
    result = local.run_agent("po", task(AgentRole.PO), log=logging.getLogger("test"))
    assert result["role"] == "po"
    assert any(item["text"] == "ruff is clean" for item in result["checklist"])
    assert any("[po]" in record.getMessage() for record in caplog.records), "agent output reaches the task log"


def test_known_error_is_a_refusal_not_a_crash(db: object) -> None:
    feature = TICKET.model_copy(update={"change_kind": ChangeKind.FEATURE})
    with pytest.raises(local.AgentReportedFailure, match="needs a language model") as refused:
        local.run_agent("dev", task(AgentRole.DEV, feature))
    assert refused.value.result is None


def test_wrong_role_for_the_task_is_refused(db: object) -> None:
    with pytest.raises(local.AgentReportedFailure, match="runs 'review'"):
        local.run_agent("review", task(AgentRole.PO))


def test_timeout_kills_the_agent(db: object) -> None:
    with pytest.raises(local.AgentProcessError, match="did not finish within"):
        local.run_agent("po", task(AgentRole.PO), timeout_s=0.01)
