"""Tool calls for servers without tool calling: the same agent loop, spoken as one JSON action per turn.

llama.cpp, TGI and Ollama call tools only where the served model's chat template supports it. For them a
request that offers tools is rewritten: the tools (name, description, argument schema) join the system
prompt, earlier tool calls and results become plain turns, and the answer is constrained to one JSON object
`{"tool": <name>, "args": {...}}` (the server's JSON mode, with the schema where it takes one). The answer
comes back to the agent as an ordinary tool call, so the loop, its bounds and its transcript do not know
the difference; an answer that is not such an object comes back as text, which the agent answers with a
retry prompt, as for any model that does not call a tool.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition

_RULES = ("You act by calling tools. Answer every turn with exactly one JSON object and nothing else: "
          '{"tool": "<one of the tool names below>", "args": {<the tool\'s arguments>}}. '
          "The result comes back in the next message.")


def wants_actions(params: ModelRequestParameters) -> bool:
    return bool(params.function_tools or params.output_tools)


def rewrite(messages: list[ModelMessage], params: ModelRequestParameters
            ) -> tuple[list[ModelMessage], ModelRequestParameters, dict[str, Any]]:
    """The conversation, parameters and response format a JSON-only server gets instead of tools."""
    tools = [*params.function_tools, *params.output_tools]
    guide = SystemPromptPart(content=f"{_RULES}\n\nTools:\n" + "\n".join(_describe(t) for t in tools))
    rewritten: list[ModelMessage] = [ModelRequest(parts=[guide])]
    for message in messages:
        if isinstance(message, ModelResponse):
            rewritten.append(ModelResponse(parts=[_as_text(p) for p in message.parts if _as_text(p) is not None]))
        else:
            rewritten.append(dataclasses.replace(message, parts=[_as_prompt(p) for p in message.parts]))
    plain = dataclasses.replace(params, function_tools=[], output_tools=[], output_mode="text",
                                allow_text_output=True)
    return rewritten, plain, action_schema(tools)


def action_schema(tools: list[ToolDefinition]) -> dict[str, Any]:
    return {"type": "object", "properties": {"tool": {"type": "string", "enum": [t.name for t in tools]},
                                             "args": {"type": "object"}},
            "required": ["tool", "args"]}


def as_tool_call(response: ModelResponse, params: ModelRequestParameters) -> ModelResponse:
    """The server's JSON action as the tool call the agent expects; anything else stays text."""
    names = {t.name for t in [*params.function_tools, *params.output_tools]}
    text = (response.text or "").strip()
    try:
        action = json.loads(text[text.find("{"): text.rfind("}") + 1]) if "{" in text else None
    except json.JSONDecodeError:
        action = None
    if not (isinstance(action, dict) and action.get("tool") in names and isinstance(action.get("args", {}), dict)):
        return response
    call = ToolCallPart(tool_name=action["tool"], args=action.get("args") or {},
                        tool_call_id=f"json-{uuid.uuid4().hex[:12]}")
    return dataclasses.replace(response, parts=[call])


def _describe(tool: ToolDefinition) -> str:
    schema = json.dumps(tool.parameters_json_schema.get("properties", {}), separators=(",", ":"))
    return f"- {tool.name}: {tool.description or ''} Arguments: {schema}"


def _as_text(part: Any) -> TextPart | None:
    if isinstance(part, ToolCallPart):
        return TextPart(content=json.dumps({"tool": part.tool_name, "args": part.args_as_dict()}))
    if isinstance(part, TextPart):
        return part
    return None


def _as_prompt(part: Any) -> Any:
    if isinstance(part, ToolReturnPart):
        return UserPromptPart(content=f"Result of {part.tool_name}:\n{part.model_response_str()}")
    if isinstance(part, RetryPromptPart):
        return UserPromptPart(content=part.model_response())
    return part
