"""The PO step decides the ticket's effective kind and class from evidence, on the local forge: the rules'
plan, the repository (a read-only checkout), and where configured a model's reading (the LLM emulator). Dev
then works the ticket as PO decided, and never opens an empty PR."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from include.agents import dev, po
from include.agents.errors import AgentError, NeedsModelError
from include.agents.llm import BASE_URL_ENV, MODEL_ENV
from include.contracts import AgentRole, AgentTask, RiskClass, Ticket
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.scm.local import LocalForge
from tests.include.agents.conftest import MODEL, ScriptedLlm

MakeTicket = Callable[..., Ticket]
BUMP = 102
CRITERIA = ["The client accepts the new version without code changes"]


def task(ticket: Ticket, role: AgentRole = AgentRole.PO, **upstream: dict[str, object]) -> AgentTask:
    return AgentTask(role=role, ticket=ticket, run_id="manual__po", upstream=upstream)


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.delenv(BASE_URL_ENV, raising=False)


def test_a_playbook_whose_precondition_holds_keeps_its_kind(forge: LocalForge, demo_ticket: MakeTicket,
                                                            no_model: None) -> None:
    result = po.run(task(demo_ticket(BUMP)))
    assert (result.change_kind, result.risk_class, result.planned_change_kind) == (
        "dependency_bump", RiskClass.R1, "dependency_bump")
    assert result.precondition == "requests is declared in requirements.txt; the ticket asks for 2.32.3"
    assert (result.understood_by, result.model_change_kind, result.risk_hint) == (None, None, None)


def test_without_a_model_a_failed_precondition_ends_at_po(forge: LocalForge, demo_ticket: MakeTicket,
                                                          no_model: None) -> None:
    ticket = demo_ticket(BUMP, title="Bump flask to 3.0.3", description="")
    with pytest.raises(po.PreconditionFailedError) as refused:
        po.run(task(ticket))
    message = str(refused.value)
    assert message.startswith("Ticket acme-102 stops at PO: the dependency_bump playbook does not apply: the "
                              "repository declares no package 'flask'")
    assert "no language model is configured" in message and "TICKETPILOT_LLM_MODEL" in message
    assert forge.find_pr(DEMO_REPO, ticket.branch) is None


def test_with_a_model_a_failed_precondition_becomes_model_work(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, demo_ticket: MakeTicket
) -> None:
    ticket = demo_ticket(BUMP, tenant=tenant_forge.tenant, title="Bump flask to 3.0.3", description="")
    scripted_llm.say({"criteria": CRITERIA, "change_kind": "dependency_bump", "affected_areas": ["requirements.txt"],
                      "risk_hint": None, "risk_reason": ""})
    result = po.run(task(ticket))
    assert (result.change_kind, result.risk_class, result.planned_change_kind) == ("feature", RiskClass.R2,
                                                                                   "dependency_bump")
    assert "the repository declares no package 'flask'" in result.precondition
    assert (result.affected_areas, result.understood_by) == (["requirements.txt"], MODEL)


def test_a_models_risk_hint_raises_the_class_and_its_kind_is_only_recorded(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, demo_ticket: MakeTicket
) -> None:
    ticket = demo_ticket(BUMP, tenant=tenant_forge.tenant)
    scripted_llm.say({"criteria": CRITERIA, "change_kind": "feature", "affected_areas": [],
                      "risk_hint": "R3", "risk_reason": "The HTTP client signs every payment request."})
    result = po.run(task(ticket))
    assert (result.change_kind, result.risk_class, result.risk_hint) == ("dependency_bump", RiskClass.R3,
                                                                         RiskClass.R3)
    assert result.model_change_kind == "feature" and "the model read it as feature" in result.precondition


def test_a_hint_without_a_reason_and_a_lower_hint_change_nothing(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, demo_ticket: MakeTicket
) -> None:
    pipeline = demo_ticket(101, tenant=tenant_forge.tenant)
    scripted_llm.say({"criteria": CRITERIA, "risk_hint": "R0", "risk_reason": "It only adds a build definition."},
                     {"criteria": CRITERIA, "risk_hint": "R3", "risk_reason": ""})
    assert po.run(task(pipeline)).risk_class is RiskClass.R1, "a model never lowers the class"
    bump = demo_ticket(BUMP, tenant=tenant_forge.tenant)
    assert po.run(task(bump)).risk_class is RiskClass.R1, "a bare class is no evidence"


def test_dev_works_the_ticket_as_po_decided(forge: LocalForge, demo_ticket: MakeTicket, no_model: None) -> None:
    ticket = demo_ticket(BUMP)
    decided = po.run(task(ticket)).model_dump(mode="json")
    as_feature = decided | {"change_kind": "feature", "risk_class": "R2"}
    with pytest.raises(NeedsModelError, match="change kind 'feature'"):
        dev.run(task(ticket, AgentRole.DEV, po=as_feature))
    assert forge.head(DEMO_REPO, ticket.branch) is None
    made = dev.run(task(ticket, AgentRole.DEV, po=decided))
    assert made.files_changed == ["requirements.txt"]


def test_dev_never_opens_an_empty_pipeline_pr(forge: LocalForge, demo_ticket: MakeTicket) -> None:
    forge.create_repo("has-ci", demo_repo_files() | {"azure-pipelines.yml": "steps:\n  - script: pytest\n"})
    ticket = demo_ticket(101, repo="has-ci")
    with pytest.raises(AgentError, match="pipeline playbook found nothing to change in has-ci@main: its CI file is "
                                         "kept user owned"):
        dev.run(task(ticket, AgentRole.DEV))
    assert forge.find_pr("has-ci", ticket.branch) is None


def test_a_bumps_checklist_names_the_version_as_the_ticket_wrote_it(demo_ticket: MakeTicket) -> None:
    """npm's `19.0.0-rc.1` is PEP 440's `19.0.0rc1`; the checklist the reviewer verifies quotes the ticket."""
    ticket = demo_ticket(BUMP, title="Bump react to 19.0.0-rc.1", description="", acceptance_criteria=[])
    assert "react is pinned at 19.0.0-rc.1" in [item.text for item in po.checklist(ticket)]


def test_the_model_reads_the_ticket_beside_where_the_code_index_points(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, feature_ticket: Ticket
) -> None:
    scripted_llm.say({"criteria": CRITERIA, "change_kind": "feature", "affected_areas": ["invoicing/totals.py"],
                      "risk_hint": None, "risk_reason": ""})
    result = po.run(task(feature_ticket))
    asked = json.dumps(scripted_llm.bodies[-1])
    assert "where the code index points for this ticket" in asked
    assert result.code_pointers and result.code_pointers[0].startswith("invoicing/totals.py:")
    assert all(pointer.split(":")[0] in asked for pointer in result.code_pointers)
    assert result.affected_areas == ["invoicing/totals.py"]


def test_a_model_with_a_small_window_reads_the_ticket_alone(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, feature_ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETPILOT_LLM_CONTEXT_TOKENS", "2048")
    scripted_llm.say({"criteria": CRITERIA})
    result = po.run(task(feature_ticket))
    assert "where the code index points" not in json.dumps(scripted_llm.bodies[-1])
    assert result.code_pointers == []
