"""The loop's conversation kept inside the model's context window.

A loop reads many files and runs many tests; sent whole, its history outgrows a small model's window after a
few turns and a large one's after a long ticket. Before each request, when the history's text passes what the
window holds (less the answer and the instructions), the oldest tool results are replaced by a note that says
how to get them back, until it fits. The task, the model's own calls and the latest results stay whole: the
model keeps what it did and why, and re-reads what it needs, as a developer would.
"""

from __future__ import annotations

import dataclasses

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart

from include.agents.llm import CHARS_PER_TOKEN

ELIDED = "[result elided to keep the conversation inside the model's context window; call the tool again if needed]"
KEEP_LATEST = 4
"""Tool results of the latest requests that are never elided."""


def history_budget_chars(window_tokens: int, answer_tokens: int, instructions_chars: int) -> int:
    """Characters of conversation the window holds besides the instructions and one answer."""
    left = window_tokens - answer_tokens - instructions_chars // CHARS_PER_TOKEN
    return max(2000, left * CHARS_PER_TOKEN)


def fit_history(budget_chars: int):  # noqa: ANN201 - a pydantic-ai history processor
    """A history processor that elides the oldest tool results until the conversation fits `budget_chars`."""

    def processor(messages: list[ModelMessage]) -> list[ModelMessage]:
        size = sum(_chars(m) for m in messages)
        if size <= budget_chars:
            return messages
        fitted = list(messages)
        requests = [i for i, m in enumerate(fitted) if isinstance(m, ModelRequest)]
        for index in requests[:-KEEP_LATEST]:
            message = fitted[index]
            assert isinstance(message, ModelRequest)
            parts = []
            for part in message.parts:
                if isinstance(part, ToolReturnPart) and part.content != ELIDED and size > budget_chars:
                    size -= len(part.model_response_str()) - len(ELIDED)
                    part = dataclasses.replace(part, content=ELIDED)
                parts.append(part)
            fitted[index] = dataclasses.replace(message, parts=parts)
            if size <= budget_chars:
                break
        return fitted

    return processor


def _chars(message: ModelMessage) -> int:
    total = 0
    for part in message.parts:
        if isinstance(part, ToolReturnPart):
            total += len(part.model_response_str())
        elif hasattr(part, "args_as_json_str"):
            total += len(part.args_as_json_str())
        else:
            total += len(str(getattr(part, "content", "") or ""))
    return total
