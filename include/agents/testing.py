"""Test: run the PR branch's tests the way its pipeline does, and for lint tickets let ruff fix what it
can between runs. Other kinds have no deterministic fixer: the step reports red instead of guessing.

Named testing.py so pytest never mistakes the module for a test file."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

from include.agents import tools
from include.agents.context import dev_result, idempotency_key, scm_for
from include.agents.playbooks import lint
from include.agents.playbooks import pipeline as template
from include.agents.workspace import checked_out
from include.contracts import AgentTask, ChangeKind, TestResult, TestRun

log = logging.getLogger(__name__)

STATUS_CONTEXT = "ci/build"
FIXERS = {ChangeKind.LINT_FIX: lint.fix}
"""Change kinds whose test failures a deterministic tool may repair."""


def resolve_test_command(workdir: Path) -> list[str]:
    """The pipeline's pytest line run with this interpreter, else `python -m pytest -q`."""
    declared = template.declared_test_command(workdir)
    argv = tools.with_our_python(declared or shlex.split(template.DEFAULT_TEST_COMMAND))
    if argv[0] != sys.executable:
        log.warning("pipeline test command %r is not a Python command; running the default", declared)
        argv = tools.with_our_python(shlex.split(template.DEFAULT_TEST_COMMAND))
    return argv


def run(task: AgentTask) -> TestResult:
    ticket = task.ticket
    dev = dev_result(task)
    scm = scm_for(ticket)
    scm.set_status(dev.pr_id, STATUS_CONTEXT, "pending", "running tests")
    runs: list[TestRun] = []
    head = scm.head(ticket.repo, dev.branch) or dev.head_commit
    verdict = ""
    with checked_out(scm, ticket.repo, dev.branch) as workdir:
        command = resolve_test_command(workdir)
        fixer = FIXERS.get(ticket.change_kind)
        for iteration in range(1, task.max_fix_iterations + 2):
            outcome = tools.run(command, workdir, task.test_timeout_s)
            log.info("iteration %d: %s exited %d in %.1fs", iteration, shlex.join(command[1:]),
                     outcome.exit_code, outcome.duration_s)
            runs.append(TestRun(iteration=iteration, command=command, exit_code=outcome.exit_code,
                                duration_s=round(outcome.duration_s, 3), output_tail=outcome.output_tail))
            if outcome.exit_code == 0:
                break
            verdict = _failure(outcome)
            if iteration > task.max_fix_iterations:
                verdict += f"; still failing after {task.max_fix_iterations} fix iterations"
                break
            if fixer is None:
                verdict += (f"; no deterministic fixer for '{ticket.change_kind.value}' tickets, "
                            "a language model would be needed to fix the code")
                break
            changes = fixer(workdir)
            if not changes:
                verdict += "; ruff check --fix changed nothing"
                break
            paths = ", ".join(c.path for c in changes)
            head = scm.commit_files(ticket.repo, dev.branch, changes,
                                    f"Apply ruff check --fix (AB#{ticket.workitem_id})\n\nFixed: {paths}",
                                    idempotency_key(ticket, "test", f"fix{iteration}"))
            runs[-1] = runs[-1].model_copy(update={"fix_applied": f"ruff check --fix: {paths}"})
    passed = runs[-1].exit_code == 0
    if passed:
        verdict = f"tests passed on iteration {len(runs)}"
    scm.set_status(dev.pr_id, STATUS_CONTEXT, "succeeded" if passed else "failed", verdict[:200])
    return TestResult(ok=passed, summary=f"PR #{dev.pr_id}: {verdict}", passed=passed, iterations=len(runs),
                      runs=runs, head_commit=head)


def _failure(outcome: tools.ToolRun) -> str:
    if outcome.timed_out:
        return f"tests timed out after {outcome.duration_s:.0f}s"
    if outcome.exit_code == 5:
        return "pytest collected no tests (exit 5)"
    return f"tests failed (exit {outcome.exit_code})"
