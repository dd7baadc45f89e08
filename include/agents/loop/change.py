"""The loop as Dev's and Test's way to a model-made change: which model gets the loop, what its task says, and
the change it leaves, collected as FileChanges for one keyed commit.

A model whose server calls tools (OpenAI, Anthropic, Azure OpenAI, vLLM, any OpenAI-compatible server, a
registered pydantic-ai model) works in the loop by default. llama.cpp, TGI and Ollama serve small local
models that rarely finish a loop, so by default they keep the single structured-edit answer
(include/agents/model_edits.py); `TICKETPILOT_DEV_LOOP=on` puts them in the loop too, where their tool calls
are JSON actions (model_serving/router/providers/json_actions.py). `off` keeps every model single-shot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from include.agents import code_pointers, llm
from include.agents.errors import AgentError
from include.agents.loop.agent import LoopBounds, LoopOutcome, run_loop
from include.agents.loop.workspace import LoopWorkspace
from include.agents.workspace import changes_since
from include.contracts import AgentTask, PoResult
from include.scm import FileChange

LOOP_ENV = "TICKETPILOT_DEV_LOOP"
JSON_ONLY_SERVERS = frozenset({"llamacpp", "tgi", "ollama"})


def uses_loop(config: llm.LlmConfig, env: Mapping[str, str] | None = None) -> bool:
    choice = (os.environ if env is None else env).get(LOOP_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "on", "off"):
        raise AgentError(f"{LOOP_ENV}={choice!r}: use auto (the default), on or off")
    if choice != "auto":
        return choice == "on"
    provider = config.spec.partition(":")[0]
    return provider not in JSON_ONLY_SERVERS


@dataclass(frozen=True)
class LoopChange:
    changes: list[FileChange]
    outcome: LoopOutcome

    @property
    def model(self) -> str:
        return self.outcome.models[-1]


def make_change(config: llm.LlmConfig, task: AgentTask, workdir: Path, test_argv: list[str]) -> LoopChange:
    """Dev: the ticket's change, made and tested in the working copy by the loop."""
    ticket = task.ticket
    goal = {"ticket title": ticket.title, "ticket description": ticket.description or "(none)",
            "acceptance criteria": "\n".join(f"- {c}" for c in ticket.acceptance_criteria) or "(none)"}
    goal |= where_to_start(config, task, workdir)
    return _run(config, task, LoopWorkspace(workdir, test_argv), goal, "dev.loop", 0)


def where_to_start(config: llm.LlmConfig, task: AgentTask, workdir: Path) -> dict[str, str]:
    """The areas PO's reading named and, where the model's window has room, the code index's pointers for the
    ticket (PO's, from the default branch it read; the working copy's own where PO gave none), as blocks of the
    loop's task."""
    po = PoResult.model_validate(task.upstream["po"]) if "po" in task.upstream else None
    pointers: list[str] = []
    if code_pointers.fit(config):
        pointers = po.code_pointers if po and po.code_pointers else code_pointers.for_ticket(task.ticket, workdir)
    blocks = {}
    if po and po.affected_areas:
        blocks["areas named by the reading of the ticket"] = "\n".join(f"- {area}" for area in po.affected_areas)
    if pointers:
        blocks["where the code index points for this ticket"] = "\n".join(pointers)
    return blocks


def fix(config: llm.LlmConfig, task: AgentTask, workdir: Path, test_argv: list[str], failure: str,
        failed_fix_iterations: int) -> LoopChange:
    """Test: the same loop, with the failing output as its task; it may not delete a test to go green."""
    goal = {"ticket title": task.ticket.title, "failing test output": failure,
            "task": "The repository's tests fail after the change above. Find the cause and fix the code (not "
                    "the tests, unless a test is wrong about what the ticket asks)."}
    return _run(config, task, LoopWorkspace(workdir, test_argv, keep_tests=True), goal,
                f"test.fix{failed_fix_iterations + 1}", failed_fix_iterations)


def _run(config: llm.LlmConfig, task: AgentTask, workspace: LoopWorkspace, goal: dict[str, str], step: str,
         failed_fix_iterations: int) -> LoopChange:
    outcome = run_loop(config, task, workspace, goal, step=step, bounds=LoopBounds.from_env(),
                       failed_fix_iterations=failed_fix_iterations)
    changes = changes_since(workspace.root, workspace.before)
    if not changes:
        raise AgentError(f"ticket {task.ticket.ticket_key}: the loop finished without a change")
    return LoopChange(changes, outcome)
