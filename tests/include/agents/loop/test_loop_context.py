"""The loop's history is kept inside the model's window: the oldest tool results go first, the task, the model's
own calls and the latest results stay; a loop on a small window still finishes."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart, UserPromptPart

from include.agents.llm import LlmConfig
from include.agents.loop.agent import LoopBounds, run_loop
from include.agents.loop.context import ELIDED, KEEP_LATEST, fit_history, history_budget_chars
from include.agents.loop.workspace import LoopWorkspace
from include.demo.repo import DEMO_REPO, demo_repo_files
from model_serving.router.windows import CONTEXT_TOKENS_ENV
from tests.include.agents.conftest import write_files
from tests.include.agents.loop.conftest import Script, call, finish, task_for, ticket_for
from tests.include.agents.loop.test_loop_smoke import TAX_LINE


def _conversation(turns: int, result_chars: int) -> list:
    messages: list = [ModelRequest(parts=[UserPromptPart(content="the ticket")])]
    for n in range(turns):
        messages.append(ModelResponse(parts=[ToolCallPart(tool_name="read_file", args={"path": f"f{n}.py"},
                                                          tool_call_id=f"c{n}")]))
        messages.append(ModelRequest(parts=[ToolReturnPart(tool_name="read_file", content="x" * result_chars,
                                                           tool_call_id=f"c{n}")]))
    return messages


def _returns(messages: list) -> list[str]:
    return [p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts
            if isinstance(p, ToolReturnPart)]


def test_a_history_that_fits_is_sent_as_it_is() -> None:
    messages = _conversation(3, 100)
    assert fit_history(10_000)(messages) is messages


def test_the_oldest_results_are_elided_first_and_the_latest_kept() -> None:
    messages = _conversation(10, 1000)
    fitted = fit_history(6000)(messages)
    results = _returns(fitted)
    assert results[:5] == [ELIDED] * 5 and all(r == "x" * 1000 for r in results[5:])
    assert fitted[0] == messages[0], "the task stays"
    assert [m for m in fitted if isinstance(m, ModelResponse)] == [m for m in messages if isinstance(m, ModelResponse)]
    assert _returns(messages) == ["x" * 1000] * 10, "the caller's history is not changed in place"


def test_the_latest_results_stay_even_over_budget() -> None:
    results = _returns(fit_history(100)(_conversation(8, 1000)))
    assert results.count(ELIDED) == 8 - KEEP_LATEST and results[-KEEP_LATEST:] == ["x" * 1000] * KEEP_LATEST


def test_the_budget_is_what_the_window_leaves() -> None:
    assert history_budget_chars(4096, 400, 3000) == (4096 - 400 - 1000) * 3
    assert history_budget_chars(1024, 900, 9000) == 2000


def test_a_loop_on_a_small_window_still_finishes(tmp_path: Path, script: Script, config: LlmConfig,
                                                 db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten reads of a long file on a 4,096-token window: later turns see the early reads elided, and finish."""
    monkeypatch.setenv(CONTEXT_TOKENS_ENV, "4096")
    root = write_files(tmp_path / DEMO_REPO, demo_repo_files())
    ticket = ticket_for(DEMO_REPO, "Invoices take an optional discount")
    reads = [call("read_file", path="invoicing/totals.py", start_line=n) for n in range(1, 11)]
    script.then(*reads, call("replace_text", path="invoicing/totals.py", search=TAX_LINE,
                             replace=TAX_LINE + "    discount_cents: int = 0\n"),
                finish("Invoices carry a discount_cents field, default 0."))
    outcome = run_loop(config, task_for(ticket), LoopWorkspace(root, ["true"]), {"ticket title": ticket.title},
                       step="dev.loop", bounds=LoopBounds(max_turns=14, answer_tokens=500))
    assert outcome.changed == ["invoicing/totals.py"]
    last = script.seen[-1]
    assert ELIDED in _returns(last) and _returns(last)[-1] != ELIDED
