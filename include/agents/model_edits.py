"""A change proposed by the model: Dev's path when no deterministic playbook applies, and the Test fix loop's
way to repair red tests.

One proposal is at most three calls: the ask, one retry that shows the model why its plan was rejected (a
schema error, or an edit that does not apply to the working copy), and one escalated call (the router's
large model) that starts afresh with that reason. If that plan is rejected too, EditsRejectedError names
what the model proposed last and why it did not apply.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from include.agents import excerpts, llm
from include.agents.edits import EditPlan, planned_changes
from include.agents.errors import AgentError, EditsRejectedError, InvalidAnswerError
from include.contracts import AgentTask, Ticket
from include.scm import FileChange

log = logging.getLogger(__name__)

DEV_PROMPT = llm.load_prompt("dev_edits", "1.0.0")
FIX_PROMPT = llm.load_prompt("test_fix", "1.0.0")
CONTEXT_CHARS_ENV = "TICKETPILOT_LLM_EDIT_CONTEXT_CHARS"
MIN_CONTEXT_CHARS = 1000
_REJECTED_LABEL = "why the previous answer was rejected"


@dataclass(frozen=True)
class EditBudget:
    """What one edit call may use: characters of quoted ticket and repository text, and answer tokens.

    Set by the model's context window (`for_model`): the embedded local model's 2k tokens give about 3,000
    characters, a cloud model's far more. TICKETPILOT_LLM_EDIT_CONTEXT_CHARS sets it outright. The answer may use
    about a quarter as many tokens as the context has characters, between 700 and 4000."""

    context_chars: int = llm.MAX_UNTRUSTED_CHARS
    answer: int | None = None
    """Answer tokens the window left room for; None: derived from the context, as for a budget set by hand."""

    @property
    def answer_tokens(self) -> int:
        return self.answer or max(700, min(4000, self.context_chars // 4))

    @classmethod
    def for_model(cls, config: llm.LlmConfig, env: Mapping[str, str] | None = None) -> EditBudget:
        raw = (os.environ if env is None else env).get(CONTEXT_CHARS_ENV, "").strip()
        if not raw:
            window = config.context_tokens
            answer = max(700, min(4000, window // 8))
            return cls(context_chars=llm.untrusted_chars(window, answer, _INSTRUCTIONS_CHARS), answer=answer)
        if not raw.isdigit() or int(raw) < MIN_CONTEXT_CHARS:
            raise AgentError(f"{CONTEXT_CHARS_ENV}={raw!r} must be a whole number of characters, at least "
                             f"{MIN_CONTEXT_CHARS}: about 3 characters per token of the model's context that is "
                             "left after the prompt and the answer")
        return cls(context_chars=int(raw))


_INSTRUCTIONS_CHARS = 1500
"""About what the edit and fix prompts take with the untrusted-data notice (include/agents/prompts/)."""


@dataclass(frozen=True)
class Proposal:
    plan: EditPlan
    changes: list[FileChange]
    model: str

    @property
    def paths(self) -> str:
        return ", ".join(change.path for change in self.changes)


def propose_change(config: llm.LlmConfig, task: AgentTask, workdir: Path, budget: EditBudget) -> Proposal:
    """Dev: edits that make the ticket's change in the working copy (not yet written)."""
    ticket = task.ticket
    own = _ticket_blocks(ticket, budget)
    text = "\n".join(own.values())
    repo = excerpts.select(workdir, text, budget.context_chars - sum(map(len, own.values())))
    return _propose(config, task, "dev.edits", DEV_PROMPT, own | repo.blocks(), workdir, budget,
                    keep_tests=False, failed_fix_iterations=0)


def propose_fix(config: llm.LlmConfig, task: AgentTask, workdir: Path, budget: EditBudget, failure: str,
                changed: list[str], failed_fix_iterations: int, tried: list[str] | None = None) -> Proposal:
    """Test: edits that make the failing tests pass; `failure` is the run's output, `changed` the files the PR
    changed so far (shown after the files the failure names), `tried` the summaries of this loop's earlier fixes
    that left the tests red: the model should not propose them again, and the request differs from the last
    one even when the test output does not (an identical request would be answered from the cache)."""
    own = _ticket_blocks(task.ticket, budget)
    own.pop("ticket description")
    tail = failure[-(budget.context_chars // 3):]
    blocks = own | {"failing test output": tail}
    if tried:
        blocks["earlier fixes that did not make the tests pass"] = "\n".join(
            f"{n}. {summary}" for n, summary in enumerate(tried, 1))[-(budget.context_chars // 6):]
    repo = excerpts.select(workdir, f"{tail}\n{own['ticket title']}\n{own['acceptance criteria']}",
                           budget.context_chars - sum(map(len, blocks.values())), prefer=changed)
    return _propose(config, task, "test.fix", FIX_PROMPT, blocks | repo.blocks(), workdir, budget,
                    keep_tests=True, failed_fix_iterations=failed_fix_iterations)


def _ticket_blocks(ticket: Ticket, budget: EditBudget) -> dict[str, str]:
    criteria = "\n".join(f"- {text}" for text in ticket.acceptance_criteria) or "(none)"
    description = ticket.description or "(none)"
    cap = budget.context_chars // 4
    if len(description) > cap:
        description = description[:cap] + " [truncated]"
    return {"ticket title": ticket.title, "ticket description": description, "acceptance criteria": criteria}


def _propose(config: llm.LlmConfig, task: AgentTask, step: str, prompt: llm.Prompt, blocks: dict[str, str],
             workdir: Path, budget: EditBudget, *, keep_tests: bool, failed_fix_iterations: int) -> Proposal:
    def check(plan: EditPlan) -> None:
        planned_changes(workdir, plan, keep_tests=keep_tests)

    try:
        answer = llm.ask_json(config, task, step, prompt, blocks, EditPlan, max_tokens=budget.answer_tokens,
                              max_untrusted_chars=budget.context_chars, check=check,
                              failed_fix_iterations=failed_fix_iterations)
    except InvalidAnswerError as first:
        log.warning("%s %s: %s; escalating once", task.ticket.ticket_key, step, first)
        try:
            answer = llm.ask_json(config, task, step, prompt, blocks | {_REJECTED_LABEL: first.error}, EditPlan,
                                  max_tokens=budget.answer_tokens,
                                  max_untrusted_chars=budget.context_chars + len(first.error), check=check,
                                  failed_fix_iterations=failed_fix_iterations, escalate=True, retries=0)
        except InvalidAnswerError as last:
            raise _rejected(task, step, last) from last
    changes = planned_changes(workdir, answer.value, keep_tests=keep_tests)
    log.info("%s %s: %s proposed %s", task.ticket.ticket_key, step, answer.model, answer.value.describe())
    return Proposal(plan=answer.value, changes=changes, model=answer.model)


def _rejected(task: AgentTask, step: str, exc: InvalidAnswerError) -> EditsRejectedError:
    try:
        proposed = EditPlan.model_validate_json(exc.content).describe()
    except ValidationError:
        flat = " ".join(exc.content.split())
        proposed = f"an answer that is no valid edit plan: {flat[:160]!r}" + ("..." if len(flat) > 160 else "")
    ticket = task.ticket
    return EditsRejectedError(
        f"Ticket {ticket.ticket_key}: {exc.model} proposed no edits that apply to {ticket.repo} for the {step} "
        f"step, after a retry with the reason and an escalated attempt. Its last proposal: {proposed}. It was "
        f"rejected because {exc.error}. None of its edits were committed; the change needs a developer or a stronger "
        "model (TICKETPILOT_LLM_MODEL)."
    )
