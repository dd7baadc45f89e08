"""The demo's loop ticket (AB#105): filed only for a model that works in the tool-using loop, classified as a
feature no playbook covers, and solved by `replay:demo` on the demo repository with its tests green."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from include.agents.llm import BASE_URL_ENV, MODEL_ENV, LlmConfig
from include.agents.loop.agent import LoopBounds, run_loop
from include.agents.loop.transcript import Transcript
from include.agents.loop.workspace import LoopWorkspace
from include.contracts import AgentRole, AgentTask, ChangeKind
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.demo.tickets import LOOP_WORK_ITEM, demo_deliveries
from include.launcher.demo import loop_model
from include.tickets import parse_ado_delivery
from tests.include.agents.conftest import write_files


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({MODEL_ENV: "llamacpp:smollm2-135m-instruct", BASE_URL_ENV: "http://127.0.0.1:8080"}, None),
    ({MODEL_ENV: "llamacpp:smollm2-135m-instruct", "TICKETPILOT_DEV_LOOP": "on"}, "llamacpp:smollm2-135m-instruct"),
    ({MODEL_ENV: "openai:gpt-4.1-mini"}, "openai:gpt-4.1-mini"),
    ({MODEL_ENV: "replay:demo"}, "replay:demo"),
])
def test_the_loop_ticket_is_filed_only_for_a_model_that_works_in_the_loop(env: dict[str, str],
                                                                          expected: str | None) -> None:
    assert loop_model(env) == expected


def test_the_loop_ticket_is_a_feature_filed_after_the_four() -> None:
    deliveries = demo_deliveries(with_loop_ticket=True)
    assert [d["resource"]["id"] for d in deliveries] == [101, 102, 103, 104, LOOP_WORK_ITEM.workitem_id]
    ticket = parse_ado_delivery(deliveries[-1], "acme", DEMO_REPO).ticket
    assert ticket.change_kind is ChangeKind.FEATURE and ticket.acceptance_criteria


def test_replay_demo_solves_it_on_the_demo_repository(tmp_path: Path, db: psycopg.Connection,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV, "replay:demo")
    config = LlmConfig.from_env()
    assert config is not None
    root = write_files(tmp_path / DEMO_REPO, demo_repo_files())
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "seed"]):
        subprocess.run(argv, cwd=root, check=True)
    ticket = parse_ado_delivery(demo_deliveries(with_loop_ticket=True)[-1], "tdemoloop", DEMO_REPO).ticket
    workspace = LoopWorkspace(root, ["python", "-m", "pytest", "-q"])
    workspace.test_argv[0] = workspace.sandbox.python
    outcome = run_loop(config, AgentTask(role=AgentRole.DEV, ticket=ticket, run_id="manual__demo"), workspace,
                       {"ticket title": ticket.title, "ticket description": ticket.description}, step="dev.loop",
                       bounds=LoopBounds(max_turns=12))
    assert outcome.changed == ["invoicing/totals.py", "tests/test_discount.py"]
    assert outcome.models == ["replay:demo"] and workspace.runs[-1].exit_code == 0
    assert "discount" in (root / "invoicing" / "totals.py").read_text(encoding="utf-8")
    searched = [e for e in Transcript.read(outcome.transcript) if e.name == "search_code"]
    assert searched and "invoicing/totals.py" in searched[0].result
