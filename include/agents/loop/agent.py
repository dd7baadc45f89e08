"""The tool-using loop on pydantic-ai: one `Agent` whose model is the router, whose tools work one working copy.

Bounds end it with a clear message, never a half-made change: model turns, wall time, tokens (the run's
usage limits), the tenant's budget (the router's admission refuses the next call), and repetition (the same
tool call with the same arguments again and again). `finish` is accepted only when something changed and the
repository's tests pass; otherwise the model is told why and goes on. The caller commits only a finished
loop's changes, so a stopped loop pushes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_ai import Agent, ModelRetry, ToolOutput, UsageLimits
from pydantic_ai.capabilities import ProcessHistory
from pydantic_ai.exceptions import UnexpectedModelBehavior, UsageLimitExceeded

from include.agents import llm
from include.agents.edits import write_changes
from include.agents.errors import AgentError, BudgetRefusedError, ModelUnavailableError
from include.agents.loop.code_search import CodeSearch
from include.agents.loop.context import fit_history, history_budget_chars
from include.agents.loop.transcript import Transcript
from include.agents.loop.workspace import LoopWorkspace
from include.agents.playbooks import PLAYBOOKS
from include.contracts import AgentTask, ChangeKind
from include.policies.tools import audit_refusal, tool_refusal
from model_serving.router import BudgetExceeded, CallContext, RouterError
from model_serving.router.agent_model import RoutedModel
from model_serving.router.injection import UNTRUSTED_DATA_NOTICE, wrap_untrusted
from model_serving.router.router import Routed

log = logging.getLogger(__name__)

PROMPT = llm.load_prompt("dev_loop", "1.1.0")
TOOL_SCHEMAS_CHARS = 6000
"""About what the tools' names, descriptions and argument schemas take in each request."""


class LoopStoppedError(AgentError):
    """The loop ended without a finished change; nothing it did is committed."""


class Finished(BaseModel):
    """What `finish` takes: the change in one sentence, or why the ticket cannot be done here."""

    summary: str = Field(min_length=10, max_length=600, description="One sentence: what you changed, and why.")
    refused: bool = Field(default=False, description="True when the ticket cannot or should not be done here.")


class LoopBounds(BaseModel):
    """What one loop may use. Defaults suit a cloud model on a small ticket; each is set by environment."""

    max_turns: int = Field(default=40, ge=1)
    max_wall_s: float = Field(default=1200.0, gt=0)
    max_tokens: int = Field(default=400_000, ge=1000)
    max_repeats: int = Field(default=3, ge=2)
    """The same tool call with the same arguments this many times in a row is a loop, not progress."""
    answer_tokens: int = Field(default=4096, ge=64)
    """What one turn may answer: a small local model's context holds far less than a cloud model's."""
    max_retries: int = Field(default=3, ge=0)
    """Answers in a row that no tool accepts (prose, an unknown tool, invalid arguments) before the loop stops."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LoopBounds:
        env = os.environ if env is None else env
        names = {"max_turns": "TICKETPILOT_LOOP_MAX_TURNS", "max_wall_s": "TICKETPILOT_LOOP_MAX_WALL_S",
                 "max_tokens": "TICKETPILOT_LOOP_MAX_TOKENS", "max_repeats": "TICKETPILOT_LOOP_MAX_REPEATS",
                 "answer_tokens": "TICKETPILOT_LOOP_ANSWER_TOKENS", "max_retries": "TICKETPILOT_LOOP_MAX_RETRIES"}
        return cls.model_validate({field: env[name] for field, name in names.items() if env.get(name, "").strip()})


@dataclass(frozen=True)
class LoopOutcome:
    summary: str
    changed: list[str]
    turns: int
    tokens: int
    cost_usd: Decimal
    models: list[str]
    transcript: Path


def run_loop(config: llm.LlmConfig, task: AgentTask, workspace: LoopWorkspace, goal: Mapping[str, str], *,
             step: str, bounds: LoopBounds | None = None, failed_fix_iterations: int = 0) -> LoopOutcome:
    """Run the loop on `goal` (labelled untrusted texts: the ticket, a failing output) until it finishes.

    Raises LoopStoppedError (a bound, a refusal, nonsense the model would not correct), BudgetRefusedError or
    ModelUnavailableError; the working copy may then hold partial edits, which the caller discards."""
    bounds = bounds or LoopBounds.from_env()
    ticket = task.ticket
    transcript = Transcript.for_step(ticket.tenant, ticket.ticket_key, step)
    context = CallContext(tenant=ticket.tenant, repo=ticket.repo, ticket_key=ticket.ticket_key, step=step,
                          prompt_version=PROMPT.ref, risk_class=ticket.risk_class,
                          failed_fix_iterations=failed_fix_iterations)
    models: list[str] = []

    def on_call(routed: Routed) -> None:
        models.append(routed.spec)
        asked = [p.tool_name for p in routed.response.tool_calls]
        transcript.add("model", routed.spec, result=f"calls {', '.join(asked)}" if asked else routed.response.text
                       or "", tokens_in=routed.usage.tokens_in, tokens_out=routed.usage.tokens_out,
                       cost_usd=routed.cost_usd, cache_hit=routed.cache_hit)

    started = time.monotonic()
    try:
        with config.router() as router:
            agent = build_agent(RoutedModel(router, context, on_call), workspace, transcript, bounds, task,
                                config.context_tokens)
            limits = UsageLimits(request_limit=bounds.max_turns, total_tokens_limit=bounds.max_tokens)
            prompt = "\n\n".join(wrap_untrusted(text, label) for label, text in goal.items())
            run = asyncio.run(asyncio.wait_for(
                agent.run(prompt, usage_limits=limits, model_settings={"max_tokens": bounds.answer_tokens,
                                                                       "temperature": 0.0}),
                bounds.max_wall_s))
    except LoopStoppedError as exc:  # the recorder's repetition stop
        raise _stopped(transcript, str(exc)) from None
    except TimeoutError:
        raise _stopped(transcript, f"the loop ran past its wall-time bound of {bounds.max_wall_s:g} s") from None
    except UsageLimitExceeded as exc:
        raise _stopped(transcript, f"the loop reached a bound ({exc}); raise TICKETPILOT_LOOP_MAX_TURNS or "
                                   "TICKETPILOT_LOOP_MAX_TOKENS, or split the ticket") from None
    except UnexpectedModelBehavior as exc:
        raise _stopped(transcript, f"the model kept answering what no tool accepts ({exc.message}); raise "
                                   "TICKETPILOT_LOOP_MAX_RETRIES or use a stronger model") from None
    except BudgetExceeded as exc:
        transcript.add("stop", "budget", result=str(exc), ok=False)
        raise BudgetRefusedError(ticket.ticket_key, step, exc) from exc
    except RouterError as exc:
        transcript.add("stop", "router", result=str(exc), ok=False)
        raise ModelUnavailableError(ticket.ticket_key, step, config.spec, exc) from exc
    finished = run.output
    if finished.refused:
        raise _stopped(transcript, f"the model refused the ticket: {finished.summary}")
    changed = workspace.changed_paths()
    transcript.add("stop", "finish", result=finished.summary)
    log.info("%s %s: finished in %d turns, %.0f s, %d tokens, $%s: %s", ticket.ticket_key, step,
             transcript.model_turns, time.monotonic() - started, transcript.tokens, transcript.cost_usd,
             finished.summary)
    return LoopOutcome(summary=" ".join(finished.summary.split()), changed=changed, turns=transcript.model_turns,
                       tokens=transcript.tokens, cost_usd=transcript.cost_usd, models=list(dict.fromkeys(models)),
                       transcript=transcript.path)


def build_agent(model: RoutedModel, workspace: LoopWorkspace, transcript: Transcript, bounds: LoopBounds,
                task: AgentTask, window_tokens: int) -> Agent[None, Finished]:
    """The loop's agent; `window_tokens` (the smallest context window along the model chain) bounds what its
    history may hold."""
    recorded = _Recorder(transcript, bounds.max_repeats, _Guard(task))
    tools = [recorded(fn) for fn in _tools(workspace, task)]
    instructions = f"{PROMPT.text}\n\n{UNTRUSTED_DATA_NOTICE}"
    history = fit_history(history_budget_chars(window_tokens, bounds.answer_tokens, instructions_chars=len(instructions)
                                               + TOOL_SCHEMAS_CHARS))
    agent: Agent[None, Finished] = Agent(
        model, instructions=instructions, tools=tools, retries=bounds.max_retries,
        capabilities=[ProcessHistory(history)],
        output_type=ToolOutput(Finished, name="finish", description="End the work: the change is made and the "
                               "tests pass, or the ticket cannot be done here (refused)."))

    @agent.output_validator
    def _done(output: Finished) -> Finished:
        if output.refused:
            return output
        if not workspace.changed_paths():
            raise ModelRetry("nothing in the repository has changed yet: make the change before you finish, or "
                             "finish with refused set and the reason")
        result = workspace.run_tests()
        transcript.add("tool", "finish.check", result=result, ok=_passed(workspace))
        if not _passed(workspace):
            raise ModelRetry(f"the tests do not pass yet, so the work is not finished:\n{result}")
        return output

    return agent


def _passed(workspace: LoopWorkspace) -> bool:
    """The last test run passed; pytest's 5 (no tests collected) counts, as in the Test step."""
    last = workspace.runs[-1] if workspace.runs else None
    return last is not None and not last.timed_out and last.exit_code in (0, 5)


def _tools(workspace: LoopWorkspace, task: AgentTask) -> list[Callable[..., str]]:
    code_search = CodeSearch(task.ticket.tenant, task.ticket.repo, workspace.root)

    def list_files(pattern: str = "*") -> str:
        """List the repository's files whose path or name matches a glob pattern (e.g. '*.py', 'src/*')."""
        return workspace.list_files(pattern)

    def search_text(pattern: str, path_glob: str = "*") -> str:
        """Search the repository's text files for a regular expression; returns path:line: text per hit."""
        return workspace.search_text(pattern, path_glob)

    def search_code(query: str, k: int = 10) -> str:
        """Search the code index by meaning and keywords ('where are invoice totals rounded'); returns the
        best matching symbols as path:lines kind symbol."""
        return code_search(query, k)

    def read_file(path: str, start_line: int = 1, end_line: int | None = None) -> str:
        """Read a file's lines (numbered), at most 400 at a time."""
        return workspace.read_file(path, start_line, end_line)

    def replace_text(path: str, search: str, replace: str) -> str:
        """Replace text that occurs exactly once in a file (copy it exactly, with indentation) with new text."""
        return workspace.replace_text(path, search, replace)

    def create_file(path: str, content: str) -> str:
        """Create a new file with the whole of its content."""
        return workspace.create_file(path, content)

    def delete_file(path: str) -> str:
        """Delete a file."""
        return workspace.delete_file(path)

    def rename_file(path: str, new_path: str) -> str:
        """Rename (move) a file."""
        return workspace.rename_file(path, new_path)

    def run_tests(selection: str = "") -> str:
        """Run the repository's tests in its sandbox; `selection` narrows them (test ids or '-k expression')."""
        return workspace.run_tests(selection)

    def run_command(command: str) -> str:
        """Run a command (python, pytest, ruff, node, npm, dotnet, make, git) in the repository's sandbox:
        no network, only the working copy is writable."""
        return workspace.run_command(command)

    def apply_playbook(kind: str) -> str:
        """Apply a deterministic playbook for this ticket: typo_fix, lint_fix or dependency_bump."""
        try:
            playbook = PLAYBOOKS[ChangeKind(kind)]
        except (ValueError, KeyError):
            choices = ", ".join(k.value for k in PLAYBOOKS if k is not ChangeKind.PIPELINE)
            raise ModelRetry(f"no playbook {kind!r}; there are: {choices}") from None
        ticket = task.ticket.model_copy(update={"change_kind": ChangeKind(kind)})
        try:
            changes = playbook(ticket, workspace.root)
        except AgentError as exc:
            raise ModelRetry(f"the {kind} playbook did not apply: {exc}") from None
        write_changes(workspace.root, changes)
        return f"the {kind} playbook changed {', '.join(c.path for c in changes) or 'nothing'}"

    return [list_files, search_text, search_code, read_file, replace_text, create_file, delete_file, rename_file,
            run_tests, run_command, apply_playbook]


@dataclass(frozen=True)
class _Guard:
    """The tool decision of the tenant's policies (include/policies/rego/tools.rego) for one call."""

    task: AgentTask

    def __call__(self, tool: str, arguments: dict[str, Any]) -> str | None:
        ticket = self.task.ticket
        reason = tool_refusal(ticket.tenant, ticket.repo, tool, arguments)
        if reason is not None:
            audit_refusal(ticket.ticket_key, self.task.role.value, tool, reason)
        return reason


class _Recorder:
    """Wraps each tool: asks the policy first, records its call and result in the transcript and stops a loop
    that repeats itself."""

    def __init__(self, transcript: Transcript, max_repeats: int,
                 guard: Callable[[str, dict[str, Any]], str | None]) -> None:
        self._transcript = transcript
        self._max_repeats = max_repeats
        self._guard = guard
        self._recent: list[str] = []

    def __call__(self, fn: Callable[..., str]) -> Callable[..., str]:
        @functools.wraps(fn)
        def recorded(*args: Any, **kwargs: Any) -> str:
            call = json.dumps([fn.__name__, args, kwargs], sort_keys=True, default=str)
            self._recent = [*self._recent[-(self._max_repeats - 1):], call]
            if len(self._recent) == self._max_repeats and len(set(self._recent)) == 1:
                raise LoopStoppedError(f"the model called {fn.__name__} with the same arguments {self._max_repeats} "
                                       "times in a row: it is looping, not making progress "
                                       "(TICKETPILOT_LOOP_MAX_REPEATS)")
            started = time.monotonic()
            arguments = json.dumps(kwargs or args, default=str)
            refusal = self._guard(fn.__name__, kwargs or dict(zip(_parameters(fn), args, strict=False)))
            if refusal is not None:
                self._transcript.add("tool", fn.__name__, args=arguments, result=f"refused by policy: {refusal}",
                                     ok=False, duration_s=time.monotonic() - started)
                raise ModelRetry(f"refused by policy: {refusal}")
            try:
                result = fn(*args, **kwargs)
            except ModelRetry as exc:
                self._transcript.add("tool", fn.__name__, args=arguments, result=exc.message, ok=False,
                                     duration_s=time.monotonic() - started)
                raise
            self._transcript.add("tool", fn.__name__, args=arguments, result=result,
                                 duration_s=time.monotonic() - started)
            return result

        return recorded


def _parameters(fn: Callable[..., str]) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _stopped(transcript: Transcript, reason: str) -> LoopStoppedError:
    transcript.add("stop", "bound", result=reason, ok=False)
    return LoopStoppedError(f"the tool-using loop stopped without a change: {reason}. Nothing was committed; the "
                            f"transcript is {transcript.path}")
