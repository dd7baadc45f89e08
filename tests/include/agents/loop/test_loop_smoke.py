"""The loop on the demo repository: a scripted model reads, edits, runs the real tests in the sandbox, finishes."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from include.agents.llm import LlmConfig
from include.agents.loop.agent import LoopBounds, LoopStoppedError, run_loop
from include.agents.loop.transcript import Transcript
from include.agents.loop.workspace import LoopWorkspace
from include.demo.repo import DEMO_REPO, demo_repo_files
from model_serving.router.ledger import calls
from tests.include.agents.conftest import write_files
from tests.include.agents.loop.conftest import Script, call, finish, task_for, ticket_for

TAX_LINE = '    tax_rate: Decimal = Decimal("0.19")\n'
SUBTOTAL = "        return sum(item.total_cents for item in self.items)\n"
TEST = """from invoicing.totals import Invoice, LineItem


def test_a_discount_comes_off_the_subtotal_before_tax():
    invoice = Invoice("INV-4", items=[LineItem("Book", 1, 1_000)], discount_cents=100)
    assert invoice.subtotal_cents == 900
"""


def test_the_loop_reads_edits_tests_and_finishes(tmp_path: Path, script: Script, config: LlmConfig,
                                                 db: psycopg.Connection) -> None:
    root = write_files(tmp_path / DEMO_REPO, demo_repo_files())
    ticket = ticket_for(DEMO_REPO, "Invoices take an optional discount")
    script.then(
        call("search_text", pattern="tax_rate"),
        call("read_file", path="invoicing/totals.py"),
        call("replace_text", path="invoicing/totals.py", search=TAX_LINE,
             replace=TAX_LINE + "    discount_cents: int = 0\n"),
        call("replace_text", path="invoicing/totals.py", search=SUBTOTAL,
             replace=SUBTOTAL.replace(")\n", ") - self.discount_cents\n")),
        call("create_file", path="tests/test_discount.py", content=TEST),
        call("run_tests"),
        finish("Invoices take an optional discount_cents off the subtotal before tax."),
    )
    workspace = LoopWorkspace(root, ["python", "-m", "pytest", "-q"])
    workspace.test_argv[0] = workspace.sandbox.python
    outcome = run_loop(config, task_for(ticket), workspace, {"ticket title": ticket.title}, step="dev.loop",
                       bounds=LoopBounds(max_turns=12))
    assert outcome.changed == ["invoicing/totals.py", "tests/test_discount.py"]
    assert outcome.turns == 7 and outcome.models == ["scripted:dev"]
    entries = Transcript.read(outcome.transcript)
    assert [e.name for e in entries if e.kind == "tool"][-2:] == ["run_tests", "finish.check"]
    assert len([r for r in calls(db, ticket.tenant) if r["status"] == "ok"]) == 7


def test_search_code_indexes_the_commit_once_and_finds_the_symbol(tmp_path: Path, script: Script,
                                                                  config: LlmConfig, db: psycopg.Connection) -> None:
    import subprocess

    root = write_files(tmp_path / DEMO_REPO, demo_repo_files())
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "seed"]):
        subprocess.run(argv, cwd=root, check=True)
    ticket = ticket_for(DEMO_REPO, "Where is tax computed?")
    script.then(call("search_code", query="invoice total with tax"), call("search_code", query="line item"),
                finish("Nothing to change: the ticket is a question.", refused=True))
    workspace = LoopWorkspace(root, ["true"])
    with pytest.raises(LoopStoppedError, match="refused the ticket"):
        run_loop(config, task_for(ticket), workspace, {"ticket title": ticket.title}, step="dev.loop")
    first = [str(p.content) for p in script.seen[1][-1].parts if p.part_kind == "tool-return"][0]
    assert "invoicing/totals.py" in first and "before this step's edits" in first
