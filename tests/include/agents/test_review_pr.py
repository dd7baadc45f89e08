"""The review of a three-file lint PR on a real local forge, with real ruff, bandit and detect-secrets: asserts in
tests are no findings, the findings on lines the PR did not touch go to the one report, and a rerun posts
nothing new."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from include.agents import review
from include.contracts import AgentRole, AgentTask, Ticket
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.scm import FileChange
from include.scm.local import LocalForge

LINT = 104
REPORT = '''"""Monthly invoice reports."""

import os
import subprocess
import sys


def render(rows):
    assert rows, "no rows"
    return "\\n".join(str(row) for row in rows)
'''
TESTS = "from invoicing.report import render\n\n\n" + "".join(
    f"def test_render_{n}():\n    assert render([{n}]) == '{n}'\n\n\n" for n in range(30)
)


def test_a_lint_pr_gets_a_few_comments_and_one_report(
    forge: LocalForge, demo_ticket: Callable[..., Ticket], open_pr: Callable[[Ticket], dict[str, Any]]
) -> None:
    ticket = demo_ticket(LINT)
    dev = open_pr(ticket)
    totals = demo_repo_files()["invoicing/totals.py"].replace("Invoice arithmetic", "Invoice arithmetic (v2)")
    forge.commit_files(DEMO_REPO, ticket.branch, [
        FileChange(path="invoicing/report.py", content=REPORT), FileChange(path="tests/test_report.py", content=TESTS),
        FileChange(path="invoicing/totals.py", content=totals),
    ], "Add reports", "test:reports")
    task = AgentTask(role=AgentRole.REVIEW, ticket=ticket, run_id="manual__review", upstream={"dev": dev})

    result = review.run(task)

    assert result.not_applicable == {"bandit B101 in test files": 30}
    assert (result.ok, result.blocking, result.commented_inline) == (True, False, 5)
    touched = {(f.tool, f.code, f.line) for f in result.findings if f.path == "invoicing/report.py"}
    assert touched == {("ruff", "F401", 3), ("ruff", "F401", 4), ("ruff", "F401", 5), ("bandit", "B404", 4),
                       ("bandit", "B101", 9)}
    untouched = [(f.path, f.code) for f in result.findings if not f.touched]
    assert untouched and all(item == ("invoicing/totals.py", "F401") for item in untouched)
    comments = forge.comments(dev["pr_id"])
    assert result.comments_posted == len(comments) == 7, "5 at their line, the report, the acceptance criteria"
    [report] = [c for c in comments if c.path is None and not c.body.startswith("**Acceptance criteria**")]
    assert f"- On lines this PR did not touch: {len(untouched)}, summarised below" in report.body
    assert f"| ruff | F401 | {len(untouched)} |" in report.body
    assert "| bandit B101 in test files | 30 | asserts are how pytest checks" in report.body
    assert {c.path for c in comments if c.path} == {"invoicing/report.py"}

    again = review.run(task)
    assert (again.comments_posted, again.findings) == (0, result.findings)
    assert len(forge.comments(dev["pr_id"])) == 7
