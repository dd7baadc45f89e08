"""The loop's fixtures: a scripted pydantic-ai FunctionModel served through the real router (ledger and cache in
the embedded PostgreSQL), and tickets against a working copy."""

from __future__ import annotations

import shutil
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from include.agents.llm import BASE_URL_ENV, MODEL_ENV, LlmConfig
from include.agents.loop.agent import LoopBounds, LoopOutcome, run_loop
from include.agents.loop.workspace import LoopWorkspace
from include.agents.testing import resolve_test_command
from include.contracts import AgentRole, AgentTask, ChangeKind, RiskClass, Ticket
from include.demo.real_projects import build, project_names
from include.demo.real_projects import project as real_project
from include.sandbox import Sandbox, ToolRun
from model_serving.router.providers import register_model, unregister_model

SCRIPTED = "scripted:dev"

Step = ModelResponse | Callable[[list[ModelMessage], AgentInfo], ModelResponse]


def call(tool: str, **args: Any) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(tool_name=tool, args=args, tool_call_id=f"c{uuid.uuid4().hex[:8]}")])


def finish(summary: str, refused: bool = False) -> ModelResponse:
    return call("finish", summary=summary, refused=refused)


def say(text: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=text)])


def last_tool_result(messages: list[ModelMessage]) -> str:
    """What the latest tool returned (or the retry prompt it raised), for steps that react to it."""
    for message in reversed(messages):
        for part in reversed(message.parts):
            if isinstance(part, ToolReturnPart):
                return part.model_response_str()
            if part.part_kind == "retry-prompt":
                return str(part.content)
    return ""


class Script:
    """A model that answers from a queue of steps; `seen` keeps each request's messages for assertions."""

    def __init__(self) -> None:
        self.steps: deque[Step] = deque()
        self.seen: list[list[ModelMessage]] = []

    def then(self, *steps: Step) -> Script:
        self.steps.extend(steps)
        return self

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.seen.append(list(messages))
        if not self.steps:
            raise AssertionError("the script ran out of steps: the loop asked for more turns than scripted")
        step = self.steps.popleft()
        return step(messages, info) if callable(step) else step


@pytest.fixture
def script(db: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[Script]:
    """A scripted model registered as the agents' configured model for this test."""
    scripted = Script()
    register_model(SCRIPTED, FunctionModel(scripted, model_name="dev"))
    monkeypatch.setenv(MODEL_ENV, SCRIPTED)
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    yield scripted
    unregister_model(SCRIPTED)


@pytest.fixture
def config(script: Script) -> LlmConfig:
    found = LlmConfig.for_tenant("t")
    assert found is not None
    return found


def ticket_for(repo: str, title: str, description: str = "", *, tenant: str | None = None,
               kind: ChangeKind = ChangeKind.FEATURE) -> Ticket:
    tenant = tenant or f"t{uuid.uuid4().hex[:10]}"
    return Ticket(tenant=tenant, workitem_id=4242, rev=1, title=title, description=description, repo=repo,
                  change_kind=kind, risk_class=RiskClass.R1, source="ado")


def task_for(ticket: Ticket, role: AgentRole = AgentRole.DEV) -> AgentTask:
    return AgentTask(role=role, ticket=ticket, run_id="manual__loop", max_fix_iterations=2, test_timeout_s=300)


# --- the real-project fixtures under a replayed model ---------------------------------------------------------

REPLAY = "replay:real-projects"
"""Scripted solutions of the real-project tickets: include/demo/replay/real-projects/<project>.yaml."""


@pytest.fixture(scope="session")
def real_projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each real project built once per session (include/demo/real_projects.py); tests copy it before editing."""
    root = tmp_path_factory.mktemp("loop-real-projects")
    return {name: build(root / name, name) for name in project_names()}


@pytest.fixture
def replay(db: object, monkeypatch: pytest.MonkeyPatch) -> LlmConfig:
    """The agents' model is the replay of the real-project scripts, through the real router."""
    monkeypatch.setenv(MODEL_ENV, REPLAY)
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    found = LlmConfig.for_tenant("t")
    assert found is not None
    return found


@dataclass(frozen=True)
class Solved:
    """A real-project ticket the loop finished: its working copy, what it changed and how the suite ended."""

    root: Path
    outcome: LoopOutcome
    suite: ToolRun
    """The project's whole test suite, run afterwards in its sandbox: the judge."""


def solve(config: LlmConfig, real_projects: dict[str, Path], tmp_path: Path, project: str, ticket_id: int) -> Solved:
    """Run the real project's labelled ticket through the loop on a fresh copy of the project, as Dev would
    (the repository's declared test command in its own sandbox), then run its whole suite to judge the change."""
    root = tmp_path / project
    shutil.copytree(real_projects[project], root, symlinks=True)
    return solve_in(config, root, project, ticket_id)


def solve_in(config: LlmConfig, root: Path, project: str, ticket_id: int) -> Solved:
    """`solve` on the working copy at `root` as it is (earlier tickets' changes included)."""
    spec = next(t for t in real_project(project).tickets if t.id == ticket_id)
    ticket = ticket_for(project, spec.title, spec.description, tenant=f"t{uuid.uuid4().hex[:10]}")
    sandbox = Sandbox.for_workdir(root)
    workspace = LoopWorkspace(root, resolve_test_command(root, sandbox.python), _sandbox=sandbox)
    goal = {"ticket title": ticket.title, "ticket description": ticket.description or "(none)"}
    outcome = run_loop(config, task_for(ticket), workspace, goal, step="dev.loop", bounds=LoopBounds(max_turns=30))
    return Solved(root, outcome, sandbox.run(resolve_test_command(root, sandbox.python), timeout_s=600))
