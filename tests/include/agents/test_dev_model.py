"""Dev's model path end to end: a feature ticket, the LLM emulator scripted with edit plans, the real router
and ledger in PostgreSQL, a real local forge, and the repository's real tests run by the Test step."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import psycopg
import pytest
from pydantic import BaseModel

from include.agents import dev, model_edits, testing
from include.agents.errors import EditsRejectedError, ModelUnavailableError, NeedsModelError
from include.agents.llm import BASE_URL_ENV, MODEL_ENV, LlmConfig
from include.contracts import AgentRole, AgentTask, Ticket
from include.demo.repo import DEMO_REPO
from include.scm.local import LocalForge
from model_serving.router.ledger import calls
from tests.include.agents.conftest import MODEL, ScriptedLlm, file_at

RunAgent = Callable[[AgentTask], "subprocess.CompletedProcess[str]"]
TAX_LINE = '    tax_rate: Decimal = Decimal("0.19")\n'
SUBTOTAL = "        return sum(item.total_cents for item in self.items)\n"
DISCOUNT_TEST = """from invoicing.totals import Invoice, LineItem


def test_a_discount_comes_off_the_subtotal_before_tax():
    invoice = Invoice("INV-4", items=[LineItem("Book", 1, 1_000)], discount_cents=100)
    assert invoice.subtotal_cents == 900
    assert invoice.total_cents == 1_071
"""
SUMMARY = "Invoices take an optional discount_cents off the subtotal before tax."
VALID = {"edits": [
    {"action": "replace", "path": "invoicing/totals.py", "search": TAX_LINE,
     "replace": TAX_LINE + "    discount_cents: int = 0\n"},
    {"action": "replace", "path": "invoicing/totals.py", "search": SUBTOTAL,
     "replace": SUBTOTAL.replace(")\n", ") - self.discount_cents\n")},
    {"action": "create", "path": "tests/test_discount.py", "content": DISCOUNT_TEST},
], "summary": SUMMARY}
MISSING = {"edits": [{"action": "replace", "path": "invoicing/totals.py", "search": "    def apply_discount(self):\n",
                      "replace": "    def apply_discount(self, cents):\n"}], "summary": SUMMARY}


def task(ticket: Ticket, role: AgentRole = AgentRole.DEV, **upstream: BaseModel) -> AgentTask:
    dumped = {name: result.model_dump(mode="json") for name, result in upstream.items()}
    return AgentTask(role=role, ticket=ticket, run_id="manual__model", upstream=dumped, max_fix_iterations=2,
                     test_timeout_s=120)


def test_a_feature_becomes_edits_committed_on_the_branch_and_tested(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, feature_ticket: Ticket, db: psycopg.Connection
) -> None:
    scripted_llm.say(VALID)
    result = dev.run(task(feature_ticket))
    assert (result.files_changed, result.proposed_by) == (["invoicing/totals.py", "tests/test_discount.py"], MODEL)
    assert result.summary.endswith(f"; edits proposed by {MODEL}")
    totals = file_at(tenant_forge, DEMO_REPO, result.branch, "invoicing/totals.py") or ""
    assert TAX_LINE + "    discount_cents: int = 0\n" in totals
    assert "return sum(item.total_cents for item in self.items) - self.discount_cents\n" in totals
    assert file_at(tenant_forge, DEMO_REPO, result.branch, "tests/test_discount.py") == DISCOUNT_TEST
    assert "discount" not in (file_at(tenant_forge, DEMO_REPO, "main", "invoicing/totals.py") or "")
    assert result.head_commit == tenant_forge.head(DEMO_REPO, result.branch) != tenant_forge.head(DEMO_REPO, "main")
    description = tenant_forge.get_pr(result.pr_id).description
    assert f"## Change\n\n{SUMMARY}\n\n_Edits proposed by {MODEL}; the test step runs" in description
    [sent] = scripted_llm.bodies
    system, user = sent["messages"]
    assert system["content"].startswith(model_edits.DEV_PROMPT.text)
    assert '<untrusted-data label="file invoicing/totals.py"' in user["content"]
    assert '<untrusted-data label="file tests/test_totals.py"' in user["content"], "what totals.py's test imports"
    assert sent["max_tokens"] == model_edits.EditBudget.for_model(LlmConfig(model=MODEL), {}).answer_tokens
    [row] = calls(db, feature_ticket.tenant)
    assert (row["step"], row["prompt_version"], row["status"]) == ("dev.edits", "dev_edits.v1.0.0", "ok")

    tested = testing.run(task(feature_ticket, AgentRole.TEST, dev=result))
    assert (tested.passed, tested.iterations) == (True, 1)
    assert "6 passed" in tested.runs[0].output_tail, "the five demo tests and the model's new one"

    assert dev.run(task(feature_ticket)) == result, "a rerun finds the keyed commit and the PR"
    assert len(scripted_llm.bodies) == 1 and len(calls(db, feature_ticket.tenant)) == 1, "and asks the model nothing"


def test_an_invalid_plan_gets_one_retry_that_shows_the_error(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, feature_ticket: Ticket, db: psycopg.Connection
) -> None:
    escape = {"edits": [{"action": "create", "path": "../escape.py", "content": "import os\n"}], "summary": SUMMARY}
    scripted_llm.say(escape, VALID)
    result = dev.run(task(feature_ticket))
    assert file_at(tenant_forge, DEMO_REPO, result.branch, "tests/test_discount.py") == DISCOUNT_TEST
    first, retry = scripted_llm.bodies
    assert retry["messages"][:2] == first["messages"]
    assert retry["messages"][2] == {"role": "assistant", "content": json.dumps(escape)}
    assert retry["messages"][3]["content"].startswith(
        "Your answer did not validate: edits.0.path: Value error, path '../escape.py' must not contain '..'")
    assert [row["status"] for row in calls(db, feature_ticket.tenant)] == ["ok", "ok"]


def test_edits_that_do_not_apply_are_retried_escalated_then_fail_the_step(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, feature_ticket: Ticket, db: psycopg.Connection
) -> None:
    scripted_llm.say(MISSING, MISSING, MISSING)
    with pytest.raises(EditsRejectedError) as error:
        dev.run(task(feature_ticket))
    why = ("edit 1 (replace 'def apply_discount(self):' in invoicing/totals.py): the search text does not occur in "
           "invoicing/totals.py")
    assert str(error.value) == (
        f"Ticket {feature_ticket.ticket_key}: {MODEL} proposed no edits that apply to invoicing-service for the "
        "dev.edits step, after a retry with the reason and an escalated attempt. Its last proposal: replace "
        f"'def apply_discount(self):' in invoicing/totals.py. It was rejected because {why}. None of its edits were "
        "committed; the change needs a developer or a stronger model (TICKETPILOT_LLM_MODEL)."
    )
    assert tenant_forge.head(DEMO_REPO, feature_ticket.branch) == tenant_forge.head(DEMO_REPO, "main")
    assert tenant_forge.find_pr(DEMO_REPO, feature_ticket.branch) is None
    first, retry, escalated = scripted_llm.bodies
    assert (len(first["messages"]), len(retry["messages"])) == (2, 4)
    assert retry["messages"][3]["content"] == (
        f"Your answer did not validate: {why}\nAnswer again with one JSON object of the shape the instructions "
        "give, and nothing else.")
    assert len(escalated["messages"]) == 2, "the escalated call starts afresh"
    assert '<untrusted-data label="why the previous answer was rejected"' in escalated["messages"][1]["content"]
    assert why in escalated["messages"][1]["content"]
    assert len(calls(db, feature_ticket.tenant)) == 3


def test_without_a_model_a_feature_ticket_fails_as_before(
    feature_ticket: Ticket, tenant_forge: LocalForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    with pytest.raises(NeedsModelError) as error:
        dev.run(task(feature_ticket))
    assert str(error.value) == (
        f"Ticket {feature_ticket.ticket_key} needs a language model (change kind 'feature') and none is configured. "
        "Configure the model router: create the Airflow connection 'llm_<tenant>' or 'llm_default' (type "
        'pydanticai, extra {"model": "provider:model"}, password = API key, host = base URL for a self-hosted '
        "server), or set TICKETPILOT_LLM_MODEL to a 'provider:model' (e.g. 'openai:gpt-4o-mini' "
        "with OPENAI_API_KEY, or 'vllm:<model>' with TICKETPILOT_LLM_BASE_URL pointing at an OpenAI-compatible "
        'server); see README "Models".'
    )
    assert tenant_forge.head(DEMO_REPO, feature_ticket.branch) is None


def test_a_provider_outage_fails_dev_in_one_line_and_may_be_retried(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, feature_ticket: Ticket, db: psycopg.Connection,
    agent_process: RunAgent,
) -> None:
    scripted_llm.emulator.fail_next("500")
    with pytest.raises(ModelUnavailableError) as error:
        dev.run(task(feature_ticket))
    assert error.value.retryable
    assert str(error.value).startswith(
        f"Ticket {feature_ticket.ticket_key}: the dev.edits call to {MODEL} got no answer (AllProvidersFailed: no "
        f"model of the fallback chain answered ({MODEL} unavailable: HTTP 500")
    assert str(error.value).endswith("; retry the step later")
    scripted_llm.emulator.fail_next("500")
    proc = agent_process(task(feature_ticket))
    assert proc.returncode == 1, proc.stderr
    line = f"ticketpilot dev: ModelUnavailableError: Ticket {feature_ticket.ticket_key}: the dev.edits call"
    assert line in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [row["status"] for row in calls(db, feature_ticket.tenant)] == ["error", "error"]
