"""`python -m include.agents <role>` as the runners start it: a real child process, the task in the
environment (or a file), the result in the XCom file, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from include.contracts import AgentRole, AgentTask, ChangeKind, Ticket, parse_result
from include.scm.local import LocalForge
from include.settings import REPO_ROOT

MakeTicket = Callable[..., Ticket]


def run_agent(role: str, xcom: Path, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = ("TICKETPILOT_AGENT_TASK", "TICKETPILOT_LLM_")  # the test decides these
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    child_env |= {"PYTHONPATH": str(REPO_ROOT), "TICKETPILOT_XCOM_PATH": str(xcom), **env}
    return subprocess.run([sys.executable, "-m", "include.agents", role], cwd=REPO_ROOT, env=child_env,
                          capture_output=True, text=True, timeout=120, check=False)


def task_json(ticket: Ticket, role: AgentRole, **upstream: dict[str, object]) -> str:
    return AgentTask(role=role, ticket=ticket, run_id="manual__main", upstream=upstream).model_dump_json()


def test_po_writes_a_valid_result_and_exits_0(tmp_path: Path, forge: LocalForge, demo_ticket: MakeTicket) -> None:
    xcom = tmp_path / "airflow" / "xcom" / "return.json"
    proc = run_agent("po", xcom, TICKETPILOT_AGENT_TASK=task_json(demo_ticket(101), AgentRole.PO))
    assert proc.returncode == 0, proc.stderr
    result = parse_result(xcom.read_text())
    assert result.role == "po" and result.ok and len(result.checklist) == 5
    assert "po step for acme-101" in proc.stderr and proc.stdout == ""


def test_task_can_come_from_a_file(tmp_path: Path, forge: LocalForge, demo_ticket: MakeTicket) -> None:
    task_file = tmp_path / "task.json"
    task_file.write_text(task_json(demo_ticket(104), AgentRole.PO))
    proc = run_agent("po", tmp_path / "return.json", TICKETPILOT_AGENT_TASK_FILE=str(task_file))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "return.json").read_text())["change_kind"] == "lint_fix"


def test_known_errors_exit_1_with_one_clear_line(tmp_path: Path, demo_ticket: MakeTicket) -> None:
    xcom = tmp_path / "return.json"
    feature = demo_ticket(101, change_kind=ChangeKind.FEATURE)
    cases = {
        "needs a language model (change kind 'feature') and none is configured": (
            "dev", {"TICKETPILOT_AGENT_TASK": task_json(feature, AgentRole.DEV)}),
        "the task is for role 'po', but this process runs 'review'": (
            "review", {"TICKETPILOT_AGENT_TASK": task_json(feature, AgentRole.PO)}),
        "the task is not a valid AgentTask": ("po", {"TICKETPILOT_AGENT_TASK": '{"role": "po"}'}),
        "no task given": ("po", {}),
    }
    for message, (role, env) in cases.items():
        proc = run_agent(role, xcom, **env)
        assert proc.returncode == 3, (message, proc.stderr)  # refused: a retry cannot help
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert not xcom.exists()


def test_a_negative_result_is_written_and_exits_2(
    tmp_path: Path, forge: LocalForge, demo_ticket: MakeTicket, open_pr: Callable[[Ticket], dict[str, object]]
) -> None:
    forge.create_repo("red", {"tests/test_red.py": "def test_red():\n    assert False\n"})
    ticket = demo_ticket(102, repo="red")
    xcom = tmp_path / "return.json"
    proc = run_agent("test", xcom, TICKETPILOT_AGENT_TASK=task_json(ticket, AgentRole.TEST, dev=open_pr(ticket)))
    assert proc.returncode == 2, proc.stderr
    result = parse_result(xcom.read_text())
    assert (result.role, result.ok, result.passed) == ("test", False, False)
    assert f"ticketpilot test: not ok: {result.summary}" in proc.stderr
