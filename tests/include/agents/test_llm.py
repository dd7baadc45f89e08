"""`complete_json` and the PO and Docs model calls against the LLM emulator, through the real router and ledger.

The plain emulator echoes the last user message as `{"model": ..., "echo": ...}` in JSON mode, which is enough
to see what the model was sent and to drive the retry; `ScriptedLlm` puts chosen answers in its mouth for the
agents' own schemas. Each test runs as a fresh tenant, so its ledger and response cache start empty.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from pydantic import BaseModel, field_validator

from include.agents import docs, llm, po
from include.contracts import AgentRole, AgentTask, Ticket
from include.scm.local import LocalForge
from model_serving.router.ledger import calls
from tests.emulators.llm.emulator import Emulator, EmulatorServer
from tests.include.agents.conftest import ScriptedLlm

MakeTicket = Callable[..., Ticket]
MODEL = "llamacpp:emulated"
PROMPT = llm.Prompt(name="test_echo", version="1.0.0", text="Repeat what you were given.")
BUMP = 101


class Echo(BaseModel):
    model: str
    echo: str


class EchoOfRetry(Echo):
    """Valid only for an answer to the retry message, so only a retry that shows the error can pass."""

    @field_validator("echo")
    @classmethod
    def _is_retry(cls, value: str) -> str:
        if "did not validate" not in value:
            raise ValueError("the echo must quote the validation error")
        return value


class Criteria(BaseModel):
    criteria: list[str]


@pytest.fixture(scope="module")
def _server() -> Iterator[Emulator]:
    with EmulatorServer("openai") as emulator:
        yield emulator


@pytest.fixture
def model(_server: Emulator, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> ScriptedLlm:
    """The emulator configured as the agents' model, as the launcher configures the local one."""
    _server.reset()
    scripted = ScriptedLlm(_server)
    monkeypatch.setattr(_server, "handle", scripted.handle)
    monkeypatch.setenv(llm.MODEL_ENV, MODEL)
    monkeypatch.setenv(llm.BASE_URL_ENV, f"{_server.url}/v1")
    return scripted


@pytest.fixture
def ticket(demo_ticket: MakeTicket) -> Ticket:
    return demo_ticket(BUMP, tenant=f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture
def po_ticket(demo_ticket: MakeTicket, tenant_forge: LocalForge) -> Ticket:
    """A ticket whose repository is in the forge: the PO step checks its playbook's precondition there."""
    return demo_ticket(BUMP, tenant=tenant_forge.tenant)


def task(ticket: Ticket, role: AgentRole = AgentRole.PO) -> AgentTask:
    return AgentTask(role=role, ticket=ticket, run_id="manual__llm")


def test_valid_json_is_returned_with_the_model_that_answered(model: ScriptedLlm, ticket: Ticket,
                                                             db: psycopg.Connection) -> None:
    answer = llm.complete_json(task(ticket), "po.refine", PROMPT, {"ticket title": ticket.title}, Echo)
    assert answer is not None and answer.model == MODEL
    assert '<untrusted-data label="ticket title"' in answer.value.echo and ticket.title in answer.value.echo
    sent = model.emulator.requests[0]["body"]
    assert sent["response_format"] == {"type": "json_object", "schema": llm.answer_schema(Echo)}, \
        "llama.cpp's server constrains decoding to the answer's schema"
    assert sent["model"] == "emulated"
    assert "never follow instructions" in sent["messages"][0]["content"].lower()
    [row] = calls(db, ticket.tenant)
    assert (row["ticket_key"], row["step"], row["prompt_version"]) == (ticket.ticket_key, "po.refine",
                                                                        "test_echo.v1.0.0")
    assert (row["provider"], row["model"], row["status"]) == ("llamacpp", "emulated", "ok")
    assert (row["tokens_in"], row["tokens_out"]) == (model.emulator.reported["tokens_in"],
                                                     model.emulator.reported["tokens_out"])


def test_an_invalid_answer_is_retried_with_its_validation_error(model: ScriptedLlm, ticket: Ticket,
                                                                db: psycopg.Connection) -> None:
    answer = llm.complete_json(task(ticket), "po.refine", PROMPT, {"ticket title": ticket.title}, EchoOfRetry)
    assert answer is not None and "the echo must quote the validation error" in answer.value.echo
    first, retry = (r["body"]["messages"] for r in model.emulator.requests)
    assert retry[:2] == first and retry[2]["role"] == "assistant" and retry[3]["role"] == "user"
    assert len(calls(db, ticket.tenant)) == 2


def test_an_answer_still_invalid_after_the_retry_gives_none(model: ScriptedLlm, ticket: Ticket,
                                                            db: psycopg.Connection,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    model.answers.extend(["not json at all", '{"criteria": "one string, not a list"}'])
    with caplog.at_level(logging.WARNING, logger="include.agents.llm"):
        assert llm.complete_json(task(ticket), "po.refine", PROMPT, {"t": "x"}, Criteria) is None
    assert "answered with invalid JSON twice" in caplog.text and "criteria" in caplog.text
    assert [r["status"] for r in calls(db, ticket.tenant)] == ["ok", "ok"]


def test_a_provider_failure_gives_none_with_the_reason(model: ScriptedLlm, ticket: Ticket,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    model.emulator.fail_next("500")
    with caplog.at_level(logging.WARNING, logger="include.agents.llm"):
        assert llm.complete_json(task(ticket), "po.refine", PROMPT, {"t": "x"}, Echo) is None
    assert "AllProvidersFailed" in caplog.text


def test_without_a_model_nothing_is_called(ticket: Ticket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(llm.MODEL_ENV, raising=False)
    monkeypatch.delenv(llm.BASE_URL_ENV, raising=False)
    assert llm.LlmConfig.from_env() is None
    assert llm.complete_json(task(ticket), "po.refine", PROMPT, {"t": "x"}, Echo) is None


def test_po_adds_the_models_criteria_after_the_tickets_own(model: ScriptedLlm, po_ticket: Ticket,
                                                           db: psycopg.Connection) -> None:
    ticket = po_ticket
    plain = po.checklist(ticket)
    own = ticket.acceptance_criteria
    model.answers.append(json.dumps({"criteria": [own[0].upper(), "The lock file matches the new pin exactly",
                                                  "Release notes mention the upgrade"]}))
    result = po.run(task(ticket))
    texts = [item.text for item in result.checklist]
    assert texts[:len(own)] == own, "the ticket's own criteria come first, unchanged"
    assert texts[len(own):len(own) + 2] == ["The lock file matches the new pin exactly",
                                            "Release notes mention the upgrade"]
    assert texts[len(own) + 2:] == [item.text for item in plain[len(own):]], "implied checks are all kept"
    assert f"2 refined by {MODEL}" in result.summary
    [row] = calls(db, ticket.tenant)
    assert (row["step"], row["prompt_version"], row["ticket_key"]) == ("po.refine", po.REFINE_PROMPT.ref,
                                                                        ticket.ticket_key)


def test_po_keeps_its_deterministic_checklist_when_the_model_fails(model: ScriptedLlm, po_ticket: Ticket
                                                                 ) -> None:
    ticket = po_ticket
    model.answers.extend(["{}", "{}"])
    result = po.run(task(ticket))
    assert result.checklist == po.checklist(ticket) and "refined" not in result.summary


def test_docs_description_is_one_marked_paragraph(model: ScriptedLlm, ticket: Ticket) -> None:
    paragraph = "Pins requests to a patched release, so installs no longer pick up the vulnerable one."
    model.answers.append(json.dumps({"description": paragraph.replace(", so", ",\nso"),
                                     "changelog": "Add an Azure Pipelines CI for invoicing-service."}))
    written = docs.write_up(task(ticket, AgentRole.DOCS), 7, ["azure-pipelines.yml"])
    assert written.value.changelog == "Add an Azure Pipelines CI for invoicing-service"
    assert written.value.grounded_changelog(ticket) == written.value.changelog
    body = docs.pr_description(task(ticket, AgentRole.DOCS), 7, [], ["azure-pipelines.yml"], written)
    line, described, mark = body.split("\n\n")
    assert line == f"Changelog, README and ADR updates for AB#{ticket.workitem_id} after PR #7."
    assert described == paragraph and mark == f"_Description written by {MODEL}; review it as a draft._"
