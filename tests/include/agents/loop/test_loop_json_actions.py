"""The loop on a server without tool calling (llama.cpp's, here the LLM emulator speaking its dialect): tools are
offered in the prompt, each turn is one JSON action constrained by the server's JSON mode, and the agent sees
ordinary tool calls. Real HTTP through the official openai SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.agents.llm import LlmConfig
from include.agents.loop import change as loop_change
from include.agents.loop.agent import LoopStoppedError, run_loop
from include.agents.loop.workspace import LoopWorkspace
from include.demo.repo import DEMO_REPO, demo_repo_files
from tests.include.agents.conftest import ScriptedLlm, write_files
from tests.include.agents.loop.conftest import task_for, ticket_for

FIXED = '    tax_rate: Decimal = Decimal("0.19")  # VAT\n'
TAX_LINE = '    tax_rate: Decimal = Decimal("0.19")\n'


def action(tool: str, **args: object) -> str:
    return json.dumps({"tool": tool, "args": args})


def test_json_actions_drive_the_same_loop(tmp_path: Path, scripted_llm: ScriptedLlm,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop_change.LOOP_ENV, "on")
    config = LlmConfig.for_tenant("t")
    assert config is not None and loop_change.uses_loop(config)
    root = write_files(tmp_path / DEMO_REPO, demo_repo_files())
    scripted_llm.say(
        action("read_file", path="invoicing/totals.py", start_line=1, end_line=20),
        "I think the file looks fine.",  # no action: the agent answers with a retry prompt
        action("replace_text", path="invoicing/totals.py", search=TAX_LINE, replace=FIXED),
        action("finish", summary="The tax rate line says it is VAT.", refused=False),
    )
    workspace = LoopWorkspace(root, ["true"])
    outcome = run_loop(config, task_for(ticket_for(DEMO_REPO, "Comment the tax rate")), workspace,
                       {"ticket title": "Comment the tax rate"}, step="dev.loop")

    assert outcome.changed == ["invoicing/totals.py"] and outcome.turns == 4
    first, second, third = scripted_llm.bodies[:3]
    assert "tools" not in first, "a JSON-only server is offered no native tools"
    assert first["response_format"]["type"] == "json_object"
    assert "replace_text" in first["response_format"]["schema"]["properties"]["tool"]["enum"]
    assert "Tools:" in first["messages"][0]["content"] and "read_file" in first["messages"][0]["content"]
    assert "Result of read_file" in json.dumps(second["messages"]), "tool results come back as plain turns"
    assert any("tool" in m.get("content", "") and m["role"] == "assistant" for m in second["messages"])
    said, retry = third["messages"][-2:]
    assert said == {"role": "assistant", "content": "I think the file looks fine."}
    assert retry["role"] == "user" and "tool call" in retry["content"], "prose gets the agent's retry prompt"


def test_a_server_that_never_answers_an_action_stops_the_loop(tmp_path: Path, scripted_llm: ScriptedLlm,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop_change.LOOP_ENV, "on")
    config = LlmConfig.for_tenant("t")
    assert config is not None
    root = write_files(tmp_path / DEMO_REPO, demo_repo_files())
    scripted_llm.say(*["Sure! Here is my plan."] * 6)
    with pytest.raises(LoopStoppedError, match="no tool accepts|bound"):
        run_loop(config, task_for(ticket_for(DEMO_REPO, "Comment the tax rate")), LoopWorkspace(root, ["true"]),
                 {"ticket title": "Comment the tax rate"}, step="dev.loop")
