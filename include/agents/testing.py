"""Test: run the PR branch's tests the way its pipeline does and, while they fail, fix and rerun them, at most
`max_fix_iterations` times. Lint tickets let ruff fix what it can; with a model configured, the model proposes
fix edits (prompt `test_fix`) from the failing output, passing the number of failed fix iterations so the
router escalates to its large model. Each fix is committed under a key of its iteration and base commit: a
repeated commit is not made twice, and a retried step, which starts from the branch tip with the earlier fixes
in it, never has its new fix mistaken for an old one. Without a fixer for the kind and without a model, the
step reports red, as it always did; its verdict quotes the run's first error.

Every run happens in the sandbox (include/sandbox) with the repository's own venv, looked up again per run so
a fix that changes a pin is tested against it; which isolation applied goes to the audit log.

Named testing.py so pytest never mistakes the module for a test file."""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from include.agents import llm, model_edits, tools
from include.agents.context import dev_result, idempotency_key, scm_for
from include.agents.edits import write_changes
from include.agents.errors import AgentError, EditsRejectedError, ModelUnavailableError
from include.agents.loop import change as loop_change
from include.agents.loop.agent import LoopStoppedError
from include.agents.playbooks import lint
from include.agents.playbooks import pipeline as template
from include.agents.workspace import checked_out, diffstat
from include.contracts import AgentTask, ChangeKind, TestResult, TestRun
from include.sandbox import record_isolation
from include.scm import FileChange

log = logging.getLogger(__name__)

STATUS_CONTEXT = "ticketpilot/tests"
FIXERS = {ChangeKind.LINT_FIX: lint.apply}
"""Change kinds whose test failures a deterministic tool may repair."""
FIRST_ERROR_CHARS = 300


_ENV_MANAGERS = ("tox", "nox")
"""Runners that build their own environments from the network: the sandbox has none, and the repository's venv
already holds what they would install, so the step runs the suite with pytest itself."""


def resolve_test_command(workdir: Path, python: str) -> list[str]:
    """The pipeline's Python test line run with `python` (the repository venv's), else `python -m pytest -q`;
    a tox or nox line becomes the default, since those would build environments the sandbox cannot download."""
    declared = template.declared_test_command(workdir)
    argv = tools.with_python(declared or shlex.split(template.DEFAULT_TEST_COMMAND), python)
    module = argv[2] if len(argv) > 2 and argv[1] == "-m" else ""
    if argv[0] != python or module in _ENV_MANAGERS:
        log.warning("pipeline test command %r is not one the sandbox runs as is; running `%s` in the repository's "
                    "venv", declared, template.DEFAULT_TEST_COMMAND)
        argv = tools.with_python(shlex.split(template.DEFAULT_TEST_COMMAND), python)
    return argv


def run(task: AgentTask) -> TestResult:
    ticket = task.ticket
    dev = dev_result(task)
    scm = scm_for(ticket)
    config = llm.LlmConfig.for_tenant(ticket.tenant)
    scm.set_status(dev.pr_id, STATUS_CONTEXT, "pending", "running tests")
    runs: list[TestRun] = []
    head = scm.head(ticket.repo, dev.branch) or dev.head_commit
    verdict = ""
    try:
        with checked_out(scm, ticket.repo, dev.branch) as workdir:
            fixer = Fixer(task, workdir, config, scm.diff(dev.pr_id) if config else "")
            for iteration in range(1, task.max_fix_iterations + 2):
                sandbox = tools.repo_sandbox(workdir)  # per run: a fix that bumps a pin gets its own venv
                command = resolve_test_command(workdir, sandbox.python)
                outcome = sandbox.run(command, task.test_timeout_s)
                log.info("iteration %d: %s exited %d in %.1fs (venv %s, isolation %s)", iteration,
                         shlex.join(command[1:]), outcome.exit_code, outcome.duration_s,
                         sandbox.venv.name if sandbox.venv else "-", outcome.isolation)
                runs.append(TestRun(iteration=iteration, command=command, exit_code=outcome.exit_code,
                                    duration_s=round(outcome.duration_s, 3), output_tail=outcome.output_tail))
                if outcome.exit_code == 0:
                    break
                verdict = _failure(outcome)
                log.warning("iteration %d: %s", iteration, verdict)
                if iteration > task.max_fix_iterations:
                    verdict += f"; still failing after {task.max_fix_iterations} fix iterations"
                    break
                fix = fixer.next(outcome, failed_fix_iterations=iteration - 1)
                if isinstance(fix, str):
                    verdict += f"; {fix}"
                    break
                head = scm.commit_files(ticket.repo, dev.branch, fix.changes, fix.message,
                                        idempotency_key(ticket, "test", f"fix{iteration}", head[:12]))
                runs[-1] = runs[-1].model_copy(update={"fix_applied": fix.applied, "fix_model": fix.model})
            record_isolation(ticket.ticket_key, "test", sandbox)
    except AgentError as exc:
        scm.set_status(dev.pr_id, STATUS_CONTEXT, "failed", str(exc)[:200])
        raise
    passed = runs[-1].exit_code == 0
    if passed:
        verdict = f"tests passed on iteration {len(runs)}"
        models = sorted({run.fix_model for run in runs if run.fix_model})
        if models:
            verdict += f" after fixes proposed by {', '.join(models)}"
    scm.set_status(dev.pr_id, STATUS_CONTEXT, "succeeded" if passed else "failed", verdict[:200])
    return TestResult(ok=passed, summary=f"PR #{dev.pr_id}: {verdict}", passed=passed, iterations=len(runs),
                      runs=runs, head_commit=head)


@dataclass(frozen=True)
class Fix:
    changes: list[FileChange]
    message: str
    """The commit message."""
    applied: str
    """What the run records as the fix applied after it."""
    model: str | None = None


class Fixer:
    """The deterministic fixer of the ticket's kind first; when there is none or it changes nothing, the
    configured model. Every fix is applied to the working copy, so the next run tests it."""

    def __init__(self, task: AgentTask, workdir: Path, config: llm.LlmConfig | None, pr_diff: str) -> None:
        self.task = task
        self.workdir = workdir
        self.config = config
        self.tool = FIXERS.get(task.ticket.change_kind)
        self.changed = diffstat(pr_diff).files
        self.tried: list[str] = []  # the model's earlier fixes in this loop, all of which left the tests red

    def next(self, outcome: tools.ToolRun, *, failed_fix_iterations: int) -> Fix | str:
        """The fix for a red run, or why there is none (the verdict says it)."""
        ticket = self.task.ticket
        reasons = []
        if self.tool is not None:
            changes = self.tool(ticket, self.workdir)
            if changes:
                paths = ", ".join(change.path for change in changes)
                return Fix(changes, f"Apply ruff check --fix (AB#{ticket.workitem_id})\n\nFixed: {paths}",
                           f"ruff check --fix: {paths}")
            reasons.append("ruff check --fix changed nothing")
        elif self.config is None:
            reasons.append(f"no deterministic fixer for '{ticket.change_kind.value}' tickets, a language model "
                           "would be needed to fix the code")
        if self.config is None:
            return "; ".join(reasons)
        if loop_change.uses_loop(self.config):
            return self._loop_fix(outcome, failed_fix_iterations)
        try:
            budget = model_edits.EditBudget.for_model(self.config)
            proposal = model_edits.propose_fix(self.config, self.task, self.workdir, budget, outcome.output_tail,
                                               self.changed, failed_fix_iterations, tried=self.tried)
        except (EditsRejectedError, ModelUnavailableError) as exc:
            if exc.retryable:  # the provider is down: red tests would blame the code for it
                raise
            return "; ".join([*reasons, f"no fix from the model: {exc}"])
        write_changes(self.workdir, proposal.changes)
        summary = proposal.plan.summary
        self.tried.append(summary)
        message = (f"Fix failing tests (AB#{ticket.workitem_id})\n\n{summary}\n\n"
                   f"Edits proposed by {proposal.model}: {proposal.paths}")
        return Fix(proposal.changes, message, f"{proposal.model} edits {proposal.paths}: {summary}", proposal.model)

    def _loop_fix(self, outcome: tools.ToolRun, failed_fix_iterations: int) -> Fix | str:
        """The tool-using loop with the failing output as its task: it runs the tests itself and finishes only
        when they pass, so its fix arrives tested."""
        assert self.config is not None
        ticket = self.task.ticket
        argv = resolve_test_command(self.workdir, tools.repo_sandbox(self.workdir).python)
        try:
            made = loop_change.fix(self.config, self.task, self.workdir, argv, outcome.output_tail,
                                   failed_fix_iterations)
        except LoopStoppedError as exc:
            return f"no fix from the tool-using loop: {exc}"
        paths = ", ".join(change.path for change in made.changes)
        message = (f"Fix failing tests (AB#{ticket.workitem_id})\n\n{made.outcome.summary}\n\nTranscript: "
                   f"{made.outcome.transcript} ({made.outcome.turns} model turns)\n\nEdits proposed by "
                   f"{made.model}: {paths}")
        return Fix(made.changes, message, f"{made.model} edits {paths}: {made.outcome.summary}", made.model)


def _failure(outcome: tools.ToolRun) -> str:
    """The verdict of a red run, with the first error the run printed, so the task log says why."""
    if outcome.timed_out:
        return f"tests timed out after {outcome.duration_s:.0f}s"
    if outcome.exit_code == 5:
        return "pytest collected no tests (exit 5)"
    first = first_error(outcome)
    return f"tests failed (exit {outcome.exit_code})" + (f": {first}" if first else "")


_SUMMARY_LINE = re.compile(r"^(?:FAILED|ERROR) \S.*$", re.MULTILINE)
_EXCEPTION_LINE = re.compile(r"^E +(\S.*)$", re.MULTILINE)


def first_error(outcome: tools.ToolRun, limit: int = FIRST_ERROR_CHARS) -> str:
    """pytest's first FAILED/ERROR summary line (a failed test, a collection error, completed with the first
    `E` line of a traceback where pytest names only the file), else that `E` line, else the last line the
    command printed (an interpreter that never reached pytest)."""
    summary = _SUMMARY_LINE.search(outcome.stdout)
    exception = _EXCEPTION_LINE.search(outcome.stdout)
    if summary is not None:
        line = summary.group(0).strip()
        if " - " not in line and exception is not None:
            line += f" - {exception.group(1).strip()}"
        return line[:limit]
    if exception is not None:
        return exception.group(1).strip()[:limit]
    lines = [line.strip() for line in (outcome.stdout + "\n" + outcome.stderr).splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""
