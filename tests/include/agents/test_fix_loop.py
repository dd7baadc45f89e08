"""The Test step's fix loop with a model: real pytest runs on a branch with a real bug, fix edits from the
scripted LLM emulator committed through the local forge, and the ledger rows the calls leave."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from include.agents import model_edits, testing, tools
from include.contracts import AgentRole, AgentTask, Ticket
from include.demo.repo import demo_repo_files
from include.scm.git import run_git
from include.scm.local import LocalForge
from model_serving.router.ledger import calls
from tests.include.agents.conftest import MODEL, ScriptedLlm, draft_pr, file_at

MakeTicket = Callable[..., Ticket]
REPO = "buggy"
BUMP = 102
FIXED = '    return f"{sign}{whole}.{rest:02d} {currency}"\n'
BROKEN = FIXED.replace("{rest:02d}", "{rest}")
SUMMARY = "format_cents pads the cents to two digits again."
FIX = {"edits": [{"action": "replace", "path": "invoicing/totals.py", "search": BROKEN, "replace": FIXED}],
       "summary": SUMMARY}
SIGNATURE = "def format_cents(cents: int, currency: str) -> str:\n"
FIRST_ERROR = "FAILED tests/test_totals.py::test_format_cents - AssertionError: assert '-0.5 USD' == '-0.05 USD'"
"""pytest's first summary line for the broken padding: the verdict quotes it, so the task log says why."""


def useless(comment: str) -> dict[str, object]:
    """A valid fix that applies and changes nothing the tests see."""
    return {"edits": [{"action": "replace", "path": "invoicing/totals.py", "search": SIGNATURE,
                       "replace": SIGNATURE + f"    # {comment}\n"}], "summary": f"Adds the comment {comment}."}


@pytest.fixture
def ticket(tenant_forge: LocalForge, demo_ticket: MakeTicket) -> Ticket:
    """A ticket on a repository whose `format_cents` lost its zero padding: `-0.05 USD` prints as `-0.5 USD`."""
    files = demo_repo_files()
    files["invoicing/totals.py"] = files["invoicing/totals.py"].replace(FIXED, BROKEN)
    tenant_forge.create_repo(REPO, files)
    return demo_ticket(BUMP, tenant=tenant_forge.tenant, repo=REPO)


def task(ticket: Ticket, dev: dict[str, object], iterations: int = 2) -> AgentTask:
    return AgentTask(role=AgentRole.TEST, ticket=ticket, run_id="manual__fix", upstream={"dev": dev},
                     max_fix_iterations=iterations, test_timeout_s=120)


def commits_on(forge: LocalForge, branch: str) -> list[str]:
    """Subject and key trailer of each commit on `branch` that is not on main, oldest first."""
    out = run_git("log", "--reverse", "--format=%s|%(trailers:key=Ticketpilot-Key,valueonly)", branch, "--not", "main",
                  cwd=forge.repo_path(REPO)).stdout
    return [line for line in out.splitlines() if line]


def test_a_red_run_is_fixed_by_the_models_edits_and_rerun_green(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, ticket: Ticket, db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(model_edits.CONTEXT_CHARS_ENV, "6000")  # a model with a larger context than the local one
    dev = draft_pr(tenant_forge, ticket)
    scripted_llm.say(FIX)
    result = testing.run(task(ticket, dev))
    assert (result.ok, result.passed, result.iterations) == (True, True, 2)
    red, green = result.runs
    assert red.exit_code == 1 and "assert '-0.5 USD' == '-0.05 USD'" in red.output_tail
    assert (red.fix_applied, red.fix_model) == (f"{MODEL} edits invoicing/totals.py: {SUMMARY}", MODEL)
    assert (green.exit_code, green.fix_applied, green.fix_model) == (0, "", None)
    assert result.summary == f"PR #{dev['pr_id']}: tests passed on iteration 2 after fixes proposed by {MODEL}"
    assert FIXED in (file_at(tenant_forge, REPO, ticket.branch, "invoicing/totals.py") or "")
    assert commits_on(tenant_forge, ticket.branch) == [
        f"Fix failing tests (AB#{ticket.workitem_id})|{ticket.ticket_key}:test:r1:fix1:{str(dev['head_commit'])[:12]}"]
    assert result.head_commit == tenant_forge.head(REPO, ticket.branch)
    assert tenant_forge.statuses(int(str(dev["pr_id"])))["ticketpilot/tests"] == "succeeded"
    [sent] = scripted_llm.bodies
    system, user = sent["messages"]
    assert system["content"].startswith(model_edits.FIX_PROMPT.text)
    assert '<untrusted-data label="failing test output"' in user["content"] and "-0.5 USD" in user["content"]
    assert '<untrusted-data label="file tests/test_totals.py"' in user["content"], "named by the failure"
    assert '<untrusted-data label="file invoicing/totals.py"' in user["content"], "imported by the failing test"
    assert sent["max_tokens"] == 1500
    [row] = calls(db, ticket.tenant)
    assert (row["step"], row["prompt_version"]) == ("test.fix", "test_fix.v1.0.0")

    again = testing.run(task(ticket, dev))
    assert (again.passed, again.iterations, again.head_commit) == (True, 1, result.head_commit)
    assert len(calls(db, ticket.tenant)) == 1


def test_fixes_that_do_not_help_stop_after_the_bounded_iterations(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, ticket: Ticket, db: psycopg.Connection
) -> None:
    dev = draft_pr(tenant_forge, ticket)
    scripted_llm.say(useless("first"), useless("second"))
    result = testing.run(task(ticket, dev, iterations=2))
    assert (result.ok, result.passed, result.iterations) == (False, False, 3)
    assert [run.exit_code for run in result.runs] == [1, 1, 1]
    assert [run.fix_model for run in result.runs] == [MODEL, MODEL, None]
    assert result.summary == (f"PR #{dev['pr_id']}: tests failed (exit 1): {FIRST_ERROR}; "
                              "still failing after 2 fix iterations")
    keys = [line.split("|")[1] for line in commits_on(tenant_forge, ticket.branch)]
    assert [key.split(":")[-2] for key in keys] == ["fix1", "fix2"], "one keyed commit per iteration"
    totals = file_at(tenant_forge, REPO, ticket.branch, "invoicing/totals.py") or ""
    assert SIGNATURE + "    # second\n    # first\n" in totals
    assert len(calls(db, ticket.tenant)) == 2
    assert tenant_forge.statuses(int(str(dev["pr_id"])))["ticketpilot/tests"] == "failed"
    second_ask = scripted_llm.bodies[1]["messages"][1]["content"]
    assert "earlier fixes that did not make the tests pass" in second_ask and "1. Adds the comment first." in second_ask


def test_a_fix_that_deletes_the_failing_test_is_refused_and_retried(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, ticket: Ticket
) -> None:
    dev = draft_pr(tenant_forge, ticket)
    drop = {"edits": [{"action": "delete", "path": "tests/test_totals.py"}], "summary": "Removes the failing test."}
    scripted_llm.say(drop, FIX)
    result = testing.run(task(ticket, dev))
    assert (result.passed, result.iterations) == (True, 2)
    retry = scripted_llm.bodies[1]["messages"][3]["content"]
    assert retry.startswith("Your answer did not validate: edit 1 (delete tests/test_totals.py): the fix may not "
                            "delete the test file tests/test_totals.py; fix the code under test")
    assert file_at(tenant_forge, REPO, ticket.branch, "tests/test_totals.py") is not None


def test_a_fix_that_never_applies_leaves_the_run_red_with_the_reason(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, ticket: Ticket, db: psycopg.Connection
) -> None:
    dev = draft_pr(tenant_forge, ticket)
    wrong = {"edits": [{"action": "replace", "path": "invoicing/totals.py", "search": FIXED, "replace": BROKEN}],
             "summary": SUMMARY}
    scripted_llm.say(wrong, wrong, wrong)
    result = testing.run(task(ticket, dev))
    assert (result.passed, result.iterations, result.runs[0].fix_applied) == (False, 1, "")
    assert result.summary.startswith(
        f"PR #{dev['pr_id']}: tests failed (exit 1): {FIRST_ERROR}; no fix from the model: Ticket "
        f"{ticket.ticket_key}: {MODEL} "
        f"proposed no edits that apply to {REPO} for the test.fix step, after a retry with the reason and an "
        "escalated attempt.")
    assert "the search text does not occur in invoicing/totals.py" in result.summary
    assert commits_on(tenant_forge, ticket.branch) == []
    assert len(calls(db, ticket.tenant)) == 3
    assert tenant_forge.statuses(int(str(dev["pr_id"])))["ticketpilot/tests"] == "failed"


def test_code_under_test_sees_no_variable_of_the_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-repository-code")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("INVOICING_API_KEY", "set on the worker, so not the repository's to read")
    names = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "INVOICING_API_KEY")
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    sandbox = tools.repo_sandbox(tmp_path)
    seen = sandbox.run([sandbox.python, "-c", f"import os; print([os.environ.get(k) for k in {names!r}])"])
    assert seen.stdout.strip() == "[None, None, None]"


def test_a_run_that_never_reaches_pytest_says_why(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_import.py").write_text("import requests\n\n\ndef test_get():\n    assert requests\n")
    sandbox = tools.repo_sandbox(tmp_path)
    collection = sandbox.run(testing.resolve_test_command(tmp_path, sandbox.python))
    assert testing.first_error(collection) == "ERROR tests/test_import.py - ModuleNotFoundError: No module named " \
                                              "'requests'", "pytest names the file; its first E line says why"
    crashed = sandbox.run([sandbox.python, "-c", "raise SystemExit('no such settings module: app.settings')"])
    assert testing.first_error(crashed) == "no such settings module: app.settings"


@pytest.mark.parametrize(("declared", "expected"), [
    (["python", "-m", "pytest", "-q", "tests"], ["-m", "pytest", "-q", "tests"]),
    (["python", "-m", "tox", "-e", "py"], ["-m", "pytest", "-q"]),
    (["python", "-m", "nox", "-s", "tests"], ["-m", "pytest", "-q"]),
    (["make", "test"], ["-m", "pytest", "-q"]),
], ids=["pytest as declared", "tox needs the network", "nox needs the network", "not Python"])
def test_the_suite_runs_in_the_repositorys_venv_whatever_ci_wraps_it_in(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, declared: list[str], expected: list[str]) -> None:
    monkeypatch.setattr(testing.template, "declared_test_command", lambda workdir: declared)
    assert testing.resolve_test_command(tmp_path, "/venv/bin/python") == ["/venv/bin/python", *expected]
