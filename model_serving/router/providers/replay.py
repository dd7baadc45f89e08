"""A replayed model (`replay:<name>`): answers each turn of a tool-using loop from a recorded script.

Benchmarks and end-to-end tests need the loop to act the same on every run, in every process the platform
starts (the Airflow task runs in its own), with no model server. A script is the turns a model would answer for
one task: tool calls with their arguments, or text. It is picked by text that must occur in the task's first
prompt (the ticket's title, "failing test output" for the fix loop), and the turn by how many answers the
conversation already holds, so a retried step or a fallback that continues a conversation gets the next turn
with nothing kept in memory. A call with no tools (PO's or Reviewer's JSON answer) gets a text that says no
answer is scripted, which those agents drop, keeping their deterministic text. A task no script matches, or a
turn past the script's end, gets such a text too, and the loop ends on it with its "no tool accepts" message:
a replay never makes up a change.

Scripts live in `<dir>/<name>.yaml`, or in the `*.yaml` files of the folder `<dir>/<name>/`; dir is
`$TICKETPILOT_REPLAY_DIR` or `include/demo/replay/`:

    scripts:
      - match: ["Truncate long cell values"]       # all occur in the task's first prompt
        turns:
          - {tool: read_file, args: {path: src/prettytable/prettytable.py, start_line: 1, end_line: 80}}
          - {tool: finish, args: {summary: "..."}}
"""

from __future__ import annotations

import os
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from model_serving.router.errors import ConfigurationError

DIR_ENV = "TICKETPILOT_REPLAY_DIR"
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "include" / "demo" / "replay"
NO_SCRIPT = "replay: no scripted answer"
"""Starts every text a replay answers when it has nothing scripted; an agent or a test can tell it apart."""


class ReplayTurn(BaseModel):
    """One answer: a tool call (`tool`, `args`) or a text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ReplayTurn:
        if (self.tool is None) == (self.text is None):
            raise ValueError("a turn is either a tool call (tool, args) or a text")
        return self


class ReplayScript(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: list[str] = Field(min_length=1)
    turns: list[ReplayTurn] = Field(min_length=1)

    def fits(self, task: str) -> bool:
        return all(text in task for text in self.match)


class ReplayScripts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scripts: list[ReplayScript]

    def answer(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if not info.function_tools:
            return _text(f"{NO_SCRIPT}: replays script tool-using loops only")
        task = _first_prompt(messages)
        script = next((s for s in self.scripts if s.fits(task)), None)
        if script is None:
            return _text(f"{NO_SCRIPT}: no script matches this task")
        turn = sum(isinstance(m, ModelResponse) for m in messages)
        if turn >= len(script.turns):
            return _text(f"{NO_SCRIPT}: the script for {script.match[0]!r} has {len(script.turns)} turns")
        step = script.turns[turn]
        if step.tool is None:
            return _text(str(step.text))
        return ModelResponse(parts=[ToolCallPart(tool_name=step.tool, args=dict(step.args),
                                                 tool_call_id=f"replay-{turn}-{uuid.uuid4().hex[:6]}")])


def replay_model(name: str, env: dict[str, str] | None = None) -> FunctionModel:
    """The pydantic-ai model that replays `<dir>/<name>.yaml`; a missing or invalid file fails here, clearly."""
    folder = Path((env if env is not None else os.environ).get(DIR_ENV) or DEFAULT_DIR)
    if (folder / name).is_dir():
        files = sorted((folder / name).glob("*.yaml"))
    else:
        files = [folder / f"{name}.yaml"]
    scripts = [script for path in files for script in load_scripts(path).scripts]
    if not scripts:
        raise ConfigurationError(f"replay:{name}: no script in {folder / name} (set {DIR_ENV} to their folder)")
    return FunctionModel(ReplayScripts(scripts=scripts).answer, model_name=name)


@cache
def load_scripts(path: Path) -> ReplayScripts:
    if not path.is_file():
        raise ConfigurationError(f"replay: no script file {path} (set {DIR_ENV} to its folder)")
    try:
        return ReplayScripts.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"replay: {path} is not a valid script file: {exc}") from exc


def _first_prompt(messages: list[ModelMessage]) -> str:
    for message in messages:
        if isinstance(message, ModelRequest):
            texts = [p.content for p in message.parts if isinstance(p, UserPromptPart) and isinstance(p.content, str)]
            if texts:
                return "\n".join(texts)
    return ""


def _text(content: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=content)])
