"""Errors an agent reports as one clear line instead of a traceback: the message names the reason and the fix.

`python -m include.agents` turns them into exit codes the runners act on: 3 (refused, retrying the same input
cannot help) for every AgentError, unless the error is `retryable` (a model provider that was down), then 1."""

from __future__ import annotations

import os
from decimal import ROUND_DOWN, Decimal

from include.contracts import Ticket
from model_serving.router import AllProvidersFailed, BudgetExceeded, ProviderUnavailable, RouterError

LEDGER_CURRENCY = "USD"
"""The cost ledger's one currency: prices, costs and budget limits are stored as `*_usd` columns, and
`BudgetExceeded` carries plain amounts in it."""


class AgentError(RuntimeError):
    """The step cannot do what the ticket asks; the message names the reason and, where there is one, the fix."""

    retryable = False
    """True when the same input may succeed later (exit 1, the runner retries); False refuses for good (exit 3)."""


class ToolError(AgentError):
    """A repository tool (ruff, bandit, detect-secrets, pytest) crashed or printed something unreadable."""


class NeedsModelError(AgentError):
    """The change needs a language model; deterministic playbooks never guess at it."""

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> NeedsModelError:
        """The message tells the operator what to configure, or which model the Dev step asks instead."""
        kind = ticket.change_kind.value
        configured = os.environ.get("TICKETPILOT_LLM_MODEL")
        if configured:
            return cls(
                f"Ticket {ticket.ticket_key} needs a language model (change kind '{kind}'): no deterministic "
                f"playbook makes this change. The Dev step asks the configured model ({configured}) for "
                "structured edits instead, which the Test step checks with the repository's tests."
            )
        return cls(
            f"Ticket {ticket.ticket_key} needs a language model (change kind '{kind}') and none is configured. "
            "Configure the model router: create the Airflow connection 'llm_<tenant>' or 'llm_default' (type "
            "pydanticai, extra {\"model\": \"provider:model\"}, password = API key, host = base URL for a "
            "self-hosted server), or set TICKETPILOT_LLM_MODEL to a 'provider:model' (e.g. "
            "'openai:gpt-4o-mini' with OPENAI_API_KEY, or 'vllm:<model>' with TICKETPILOT_LLM_BASE_URL pointing "
            'at an OpenAI-compatible server); see README "Models".'
        )


class BudgetRefusedError(AgentError):
    """The model router refused a call because it could take a budget past its limit. Not retryable: the
    same call is refused until someone raises the limit (or a monthly budget starts a new month)."""

    def __init__(self, ticket_key: str, step: str, refusal: BudgetExceeded) -> None:
        self.refusal = refusal
        used = f" ({_percent(refusal.spent, refusal.limit)})" if refusal.limit > 0 else ""
        super().__init__(
            f"Ticket {ticket_key}: the model budget refused the {step} call. The {refusal.scope} budget "
            f"{refusal.scope_key!r} of tenant {refusal.tenant!r} has spent {_amount(refusal.spent)} of its "
            f"{_amount(refusal.limit)} limit{used}, and this call may cost up to {_amount(refusal.estimate)}. "
            "The ticket stops here without retrying; raise the limit with model_serving.router.ledger."
            f"set_budget(conn, {refusal.tenant!r}, {refusal.scope!r}, {refusal.scope_key!r}, limit_usd=...) "
            "and rerun the step."
        )


class ModelUnavailableError(AgentError):
    """The router could not get an answer (provider down, request rejected, no allowed model). Retryable when
    the provider was only unavailable; a configuration or data-boundary problem is not fixed by waiting."""

    def __init__(self, ticket_key: str, step: str, model: str, cause: RouterError) -> None:
        self.cause = cause
        self.retryable = isinstance(cause, (ProviderUnavailable, AllProvidersFailed))
        then = "retry the step later" if self.retryable else "fix the model configuration named above"
        super().__init__(f"Ticket {ticket_key}: the {step} call to {model} got no answer "
                         f"({type(cause).__name__}: {cause}); {then}")


class InvalidAnswerError(AgentError):
    """The model answered, but its answer failed validation, also on the retry that showed it the error."""

    def __init__(self, ticket_key: str, step: str, model: str, content: str, error: str) -> None:
        self.model = model
        self.content = content
        self.error = error
        super().__init__(f"Ticket {ticket_key}: {model} gave no valid answer to the {step} call; the last one was "
                         f"rejected because {error}")


class EditsRejectedError(AgentError):
    """A model's edit plans did not apply, after a retry with the reason and an escalated attempt; the
    message names what it proposed last and why that was rejected."""


def _amount(value: Decimal) -> str:
    return f"{value:.4f} {LEDGER_CURRENCY}"


def _percent(spent: Decimal, limit: Decimal) -> str:
    """Rounded down, so a budget that still has a little left never reads as used up."""
    return f"{(spent * 100 / limit).quantize(Decimal('0.1'), rounding=ROUND_DOWN)}%"
