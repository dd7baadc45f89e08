"""Errors an agent reports as a clear one-line message (exit 1, no traceback): the fix is the user's."""

from __future__ import annotations

import os

from include.contracts import Ticket


class AgentError(RuntimeError):
    """The step cannot do what the ticket asks; the message names the reason and, where there is one, the fix."""


class ToolError(AgentError):
    """A repository tool (ruff, bandit, detect-secrets, pytest) crashed or printed something unreadable."""


class NeedsModelError(AgentError):
    """The change needs a language model; deterministic playbooks never guess at it."""

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> NeedsModelError:
        """The message tells the operator what to configure, or that a configured model is not wired yet."""
        kind = ticket.change_kind.value
        configured = os.environ.get("TICKETPILOT_LLM_MODEL")
        if configured:
            return cls(
                f"Ticket {ticket.ticket_key} needs a language model (change kind '{kind}'). A model is "
                f"configured ({configured}), but model-driven code changes (structured edits checked by tests) "
                "are not available in this build yet; they are tracked in the model router issue. Until then "
                "this ticket needs a developer."
            )
        return cls(
            f"Ticket {ticket.ticket_key} needs a language model (change kind '{kind}') and none is configured. "
            "Configure the model router: set TICKETPILOT_LLM_MODEL to a 'provider:model' (e.g. "
            "'openai:gpt-4o-mini' with OPENAI_API_KEY, or 'vllm:<model>' with TICKETPILOT_LLM_BASE_URL pointing "
            'at an OpenAI-compatible server); see README "Models".'
        )
