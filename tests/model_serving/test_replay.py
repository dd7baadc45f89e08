"""The replay model: scripts picked by the task's text, turns by the conversation's length, nothing made up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic_ai import Agent, ToolOutput
from pydantic_ai.exceptions import UnexpectedModelBehavior
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.tools import ToolDefinition

from model_serving.router.errors import ConfigurationError
from model_serving.router.providers import resolve_provider
from model_serving.router.providers.replay import DIR_ENV, NO_SCRIPT, ReplayScripts, replay_model

SCRIPTS = """
scripts:
  - match: ["Fix the greeting", "greet.py"]
    turns:
      - {tool: read_file, args: {path: greet.py}}
      - {text: "Reading done."}
      - {tool: finish, args: {summary: "done"}}
  - match: ["Fix the greeting"]
    turns:
      - {tool: list_files, args: {}}
"""


def _info(tools: bool = True) -> AgentInfo:
    defs = [ToolDefinition(name="read_file", parameters_json_schema={"type": "object"})] if tools else []
    return AgentInfo(function_tools=defs, allow_text_output=True, output_tools=[], model_settings=None,
                     model_request_parameters=None, instructions=None)


def _task(text: str, answered: int = 0) -> list:
    messages: list = [ModelRequest(parts=[UserPromptPart(content=text)])]
    for _ in range(answered):
        messages += [ModelResponse(parts=[TextPart(content="x")]), ModelRequest(parts=[UserPromptPart(content="r")])]
    return messages


@pytest.fixture
def scripts() -> ReplayScripts:
    return ReplayScripts.model_validate(yaml.safe_load(SCRIPTS))


def test_the_first_script_whose_texts_all_occur_answers_turn_by_turn(scripts: ReplayScripts) -> None:
    first = scripts.answer(_task("Fix the greeting in greet.py"), _info())
    assert isinstance(first.parts[0], ToolCallPart) and first.parts[0].args == {"path": "greet.py"}
    second = scripts.answer(_task("Fix the greeting in greet.py", answered=1), _info())
    assert second.parts[0] == TextPart(content="Reading done.")
    other = scripts.answer(_task("Fix the greeting somewhere"), _info())
    assert isinstance(other.parts[0], ToolCallPart) and other.parts[0].tool_name == "list_files"


@pytest.mark.parametrize(("task", "answered", "tools", "says"), [
    ("Fix the greeting in greet.py", 3, True, "has 3 turns"),
    ("Refactor the invoice module", 0, True, "no script matches"),
    ("Fix the greeting in greet.py", 0, False, "tool-using loops only"),
])
def test_whatever_is_not_scripted_is_said_never_made_up(scripts: ReplayScripts, task: str, answered: int,
                                                        tools: bool, says: str) -> None:
    answer = scripts.answer(_task(task, answered), _info(tools))
    assert isinstance(answer.parts[0], TextPart)
    assert answer.parts[0].content.startswith(NO_SCRIPT) and says in answer.parts[0].content


def test_a_folder_of_script_files_is_one_replay_served_as_a_self_hosted_provider(tmp_path: Path) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "a.yaml").write_text(SCRIPTS, encoding="utf-8")
    (tmp_path / "team" / "b.yaml").write_text(
        'scripts:\n  - match: ["Bump"]\n    turns:\n      - {tool: apply_playbook, args: {kind: dependency_bump}}\n',
        encoding="utf-8")
    provider = resolve_provider("replay:team", env={DIR_ENV: str(tmp_path)})
    assert provider.spec == "replay:team" and not provider.is_cloud

    agent: Agent[None, str] = Agent(provider.transport, output_type=ToolOutput(str, name="finish"))

    @agent.tool_plain
    def apply_playbook(kind: str) -> str:
        return f"applied {kind}"

    with pytest.raises(UnexpectedModelBehavior):  # the script has one turn; the second answer is the replay's text
        agent.run_sync("Bump requests to 2.32")
    assert provider.transport.model_name == "team"


@pytest.mark.parametrize(("content", "says"), [
    (None, "no script file"),
    ("scripts:\n  - match: []\n    turns: []\n", "not a valid script file"),
    ("scripts:\n  - match: [x]\n    turns:\n      - {tool: a, text: b}\n", "not a valid script file"),
])
def test_a_missing_or_invalid_script_file_fails_with_its_path(tmp_path: Path, content: str | None,
                                                              says: str) -> None:
    if content is not None:
        (tmp_path / f"bad{len(content)}.yaml").write_text(content, encoding="utf-8")
    name = f"bad{len(content)}" if content is not None else "absent"
    with pytest.raises(ConfigurationError, match=says) as caught:
        replay_model(name, env={DIR_ENV: str(tmp_path)})
    assert str(tmp_path) in str(caught.value)
