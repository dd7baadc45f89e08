"""The router's two message shapes: its own `ChatMessage` list (HTTP service, JSON asks) and pydantic-ai's
`ModelMessage` list (tool-using agents). Both go through one routed call; here they are converted, redacted,
restored and keyed for the cache.

Redaction walks every text a provider would see (prompts, tool results, earlier answers and tool-call
arguments) and restoration every text it sends back (answers and tool-call arguments), so a cloud model
sees placeholders and the caller, tools included, the originals.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
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

from model_serving.router.models import ChatMessage

Rewrite = Callable[[str], str]


def to_model_messages(messages: list[ChatMessage]) -> list[ModelMessage]:
    """System and user turns become request parts; an assistant turn closes the request before it."""
    converted: list[ModelMessage] = []
    parts: list[Any] = []
    for message in messages:
        if message.role == "assistant":
            if parts:
                converted.append(ModelRequest(parts=parts))
                parts = []
            converted.append(ModelResponse(parts=[TextPart(content=message.content)]))
        elif message.role == "system":
            parts.append(SystemPromptPart(content=message.content))
        else:
            parts.append(UserPromptPart(content=message.content))
    if parts:
        converted.append(ModelRequest(parts=parts))
    return converted


def chat_view(messages: list[ModelMessage]) -> list[ChatMessage]:
    """The conversation as chat turns, one per part, for the injection scan and the token estimate: system
    prompts stay system, what the model said (text and tool-call arguments) is an assistant turn, and all
    else (prompts, tool results, retry prompts) a user turn, since it did not come from us."""
    view: list[ChatMessage] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolCallPart):
                view.append(ChatMessage(role="assistant", content=f"{part.tool_name}({part.args_as_json_str()})"))
                continue
            content = getattr(part, "content", None)
            if content is None:
                continue
            text = content if isinstance(content, str) else json.dumps(content, default=str)
            role = ("system" if isinstance(part, SystemPromptPart)
                    else "assistant" if isinstance(message, ModelResponse) else "user")
            view.append(ChatMessage(role=role, content=text))
    return view


def rewrite_messages(messages: list[ModelMessage], rewrite: Rewrite) -> list[ModelMessage]:
    """The conversation with `rewrite` applied to every text a provider reads."""
    return [_rewrite_message(message, rewrite) for message in messages]


def rewrite_response(response: ModelResponse, rewrite: Rewrite) -> ModelResponse:
    return _rewrite_message(response, rewrite)  # type: ignore[return-value]


def _rewrite_message(message: ModelMessage, rewrite: Rewrite) -> ModelMessage:
    parts = [_rewrite_part(part, rewrite) for part in message.parts]
    return dataclasses.replace(message, parts=parts)


def _rewrite_part(part: Any, rewrite: Rewrite) -> Any:
    if isinstance(part, (SystemPromptPart, TextPart)):
        return dataclasses.replace(part, content=rewrite(part.content))
    if isinstance(part, UserPromptPart):
        content = part.content if not isinstance(part.content, str) else rewrite(part.content)
        return dataclasses.replace(part, content=content)
    if isinstance(part, (ToolReturnPart, RetryPromptPart)):
        content = part.content
        if isinstance(content, str):
            return dataclasses.replace(part, content=rewrite(content))
        return dataclasses.replace(part, content=json.loads(rewrite(json.dumps(content, default=str))))
    if isinstance(part, ToolCallPart):
        return dataclasses.replace(part, args=rewrite(part.args_as_json_str()))
    return part


def cache_key(spec: str, messages: list[ModelMessage], params: ModelRequestParameters,
              settings: dict[str, Any] | None) -> str:
    """sha256 over the model, the conversation's content (not its timestamps or ids), the tools offered and
    every setting that changes the answer."""
    conversation = []
    for message in messages:
        for part in message.parts:
            entry: dict[str, Any] = {"kind": part.part_kind}
            if isinstance(part, ToolCallPart):
                entry |= {"tool": part.tool_name, "args": part.args_as_dict()}
            elif isinstance(part, ToolReturnPart):
                entry |= {"tool": part.tool_name, "content": part.model_response_str()}
            else:
                content = getattr(part, "content", None)
                entry["content"] = content.strip() if isinstance(content, str) else json.dumps(content, default=str)
            conversation.append(entry)
    normalised = {
        "model": spec,
        "messages": conversation,
        "tools": [{"name": t.name, "parameters": t.parameters_json_schema} for t in params.function_tools],
        "allow_text_output": params.allow_text_output,
        "settings": {k: v for k, v in sorted((settings or {}).items()) if k != "timeout"},
    }
    blob = json.dumps(normalised, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def dump_response(response: ModelResponse) -> str:
    """The response as the cache keeps it: pydantic-ai's own JSON of the message."""
    return ModelMessagesTypeAdapter.dump_json([response]).decode()


def load_response(blob: str) -> ModelResponse:
    (message,) = ModelMessagesTypeAdapter.validate_json(blob)
    if not isinstance(message, ModelResponse):
        raise ValueError("a cached model response holds a request")
    return message
