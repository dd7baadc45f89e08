"""Dev and Test through the loop: a feature ticket on the demo repository becomes one keyed commit on the branch
and a draft PR that links the transcript; a resumed step asks nothing again; the fix loop repairs red tests."""

from __future__ import annotations

import psycopg

from include.agents import dev, testing
from include.agents.loop.transcript import Transcript, path_for
from include.contracts import AgentRole, AgentTask, PoResult, Ticket
from include.demo.repo import DEMO_REPO
from include.scm import FileChange
from include.scm.local import LocalForge
from model_serving.router.ledger import calls
from tests.include.agents.conftest import file_at
from tests.include.agents.loop.conftest import Script, call, finish
from tests.include.agents.loop.test_loop_smoke import SUBTOTAL, TAX_LINE, TEST

SUMMARY = "Invoices take an optional discount_cents off the subtotal before tax."


def task(ticket: Ticket, role: AgentRole = AgentRole.DEV, **upstream: dict) -> AgentTask:
    return AgentTask(role=role, ticket=ticket, run_id="manual__loop", upstream=upstream, max_fix_iterations=1,
                     test_timeout_s=300)


def discount_script(script: Script) -> None:
    subtotal = SUBTOTAL.replace(")\n", ") - self.discount_cents\n")
    script.then(
        call("read_file", path="invoicing/totals.py"),
        call("replace_text", path="invoicing/totals.py", search=TAX_LINE,
             replace=TAX_LINE + "    discount_cents: int = 0\n"),
        call("replace_text", path="invoicing/totals.py", search=SUBTOTAL, replace=subtotal),
        call("create_file", path="tests/test_discount.py", content=TEST),
    )


def test_a_feature_is_made_by_the_loop_committed_once_and_linked(script: Script, tenant_forge: LocalForge,
                                                                 feature_ticket: Ticket,
                                                                 db: psycopg.Connection) -> None:
    discount_script(script)
    script.then(call("run_tests"), finish(SUMMARY))
    result = dev.run(task(feature_ticket))

    assert result.files_changed == ["invoicing/totals.py", "tests/test_discount.py"]
    assert result.proposed_by == "scripted:dev"
    totals = file_at(tenant_forge, DEMO_REPO, result.branch, "invoicing/totals.py") or ""
    assert "- self.discount_cents" in totals
    pr = tenant_forge.find_pr(DEMO_REPO, result.branch)
    assert pr is not None and pr.is_draft
    transcript = path_for(feature_ticket.tenant, feature_ticket.ticket_key, "dev.loop")
    assert Transcript.read(transcript)[-1].name == "finish"
    assert f"`{transcript}`" in (pr.description or "")
    rows = calls(db, feature_ticket.tenant)
    assert {r["step"] for r in rows} == {"dev.loop"} and all(r["status"] == "ok" for r in rows)

    again = dev.run(task(feature_ticket))  # resumed: the keyed commit is found, the model is not asked
    assert again.pr_id == result.pr_id and script.steps == type(script.steps)()


def test_the_fix_loop_repairs_red_tests_with_the_failure_as_its_task(script: Script, tenant_forge: LocalForge,
                                                                     feature_ticket: Ticket) -> None:
    """The loop's finish needs green tests, so Dev's change is tested; a later commit breaks it, and Test's
    loop gets the failing output, finds the cause and fixes it: one fix iteration, committed on the branch."""
    discount_script(script)
    script.then(finish(SUMMARY))
    dev_result = dev.run(task(feature_ticket))
    # Break the code on the branch the way a careless follow-up commit would, then let Test's loop fix it.
    branch = dev_result.branch
    totals = file_at(tenant_forge, DEMO_REPO, branch, "invoicing/totals.py") or ""
    tenant_forge.commit_files(DEMO_REPO, branch, [FileChange(path="invoicing/totals.py", content=totals.replace(
        "- self.discount_cents", "+ self.discount_cents"))], "a careless follow-up", "test:break")
    broken = "        return sum(item.total_cents for item in self.items) + self.discount_cents\n"
    script.then(
        call("search_text", pattern="discount_cents"),
        call("replace_text", path="invoicing/totals.py", search=broken, replace=broken.replace("+", "-", 1)),
        call("run_tests"),
        finish("The discount is subtracted from the subtotal again, as the test expects."),
    )
    result = testing.run(task(feature_ticket, AgentRole.TEST, dev=dev_result.model_dump(mode="json")))
    assert result.passed and result.iterations == 2
    assert result.runs[0].fix_model == "scripted:dev"
    fixed = file_at(tenant_forge, DEMO_REPO, branch, "invoicing/totals.py") or ""
    assert "- self.discount_cents" in fixed


def first_prompt(script: Script) -> str:
    return "\n".join(str(getattr(part, "content", "")) for part in script.seen[0][0].parts)


def test_the_loop_starts_from_po_s_areas_and_pointers(script: Script, tenant_forge: LocalForge,
                                                      feature_ticket: Ticket) -> None:
    po = PoResult(summary="read", checklist=[], change_kind="feature", risk_class=feature_ticket.risk_class,
                  affected_areas=["invoice totals"],
                  code_pointers=["invoicing/totals.py:30-32 method Invoice.subtotal_cents: def subtotal_cents(self)"])
    discount_script(script)
    script.then(finish(SUMMARY))
    dev.run(task(feature_ticket, po=po.model_dump(mode="json")))
    prompt = first_prompt(script)
    assert "areas named by the reading of the ticket" in prompt and "- invoice totals" in prompt
    assert "where the code index points for this ticket" in prompt
    assert "invoicing/totals.py:30-32 method Invoice.subtotal_cents" in prompt


def test_without_po_s_pointers_the_loop_asks_the_index_itself(script: Script, tenant_forge: LocalForge,
                                                              feature_ticket: Ticket) -> None:
    discount_script(script)
    script.then(finish(SUMMARY))
    dev.run(task(feature_ticket))
    prompt = first_prompt(script)
    assert "areas named by the reading of the ticket" not in prompt
    pointers = prompt.split("where the code index points for this ticket", 1)[1]
    assert "invoicing/totals.py:" in pointers and "Invoice.subtotal_cents" in pointers
