"""Docs with a model: one call writes the docs PR's description, the CHANGELOG line's wording and, when the
ticket asks for a decision, the ADR draft; an ungrounded changelog line or no valid answer keeps the
deterministic text, and a rerun never adds the change's line twice."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from include.agents import dev, docs
from include.agents.playbooks import changelog
from include.contracts import AgentRole, AgentTask, DevResult, Ticket
from include.demo.repo import DEMO_REPO
from include.scm.local import LocalForge
from tests.include.agents.conftest import MODEL, ScriptedLlm, file_at

MakeTicket = Callable[..., Ticket]
DESCRIPTION = "Pins requests to 2.32.3, the release that fixes CVE-2024-35195, so verified sessions stay verified."
CHANGELOG = "Pin requests to 2.32.3 to fix CVE-2024-35195"


def task(ticket: Ticket, made: DevResult) -> AgentTask:
    return AgentTask(role=AgentRole.DOCS, ticket=ticket, run_id="manual__docs",
                     upstream={"dev": made.model_dump(mode="json")})


@pytest.fixture
def merged(tenant_forge: LocalForge, demo_ticket: MakeTicket) -> Callable[..., tuple[Ticket, DevResult]]:
    def make(workitem: int = 102, **changes: object) -> tuple[Ticket, DevResult]:
        ticket = demo_ticket(workitem, tenant=tenant_forge.tenant, **changes)
        made = dev.run(AgentTask(role=AgentRole.DEV, ticket=ticket, run_id="manual__docs"))
        tenant_forge.publish(made.pr_id)
        tenant_forge.merge(made.pr_id)
        return ticket, made

    return make


def test_the_model_words_the_changelog_line_and_the_description(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, merged: Callable[..., tuple[Ticket, DevResult]]
) -> None:
    ticket, made = merged()
    scripted_llm.say({"description": DESCRIPTION, "changelog": CHANGELOG + ".", "adr": None})
    result = docs.run(task(ticket, made))
    line = f"- {CHANGELOG} (AB#{ticket.workitem_id}, PR #{made.pr_id})"
    assert result.changelog_entry == line
    assert line in (file_at(tenant_forge, DEMO_REPO, "main", "CHANGELOG.md") or "").splitlines()
    body = tenant_forge.get_pr(result.docs_pr_id or 0).description
    assert DESCRIPTION in body and f"_Description written by {MODEL}; review it as a draft._" in body
    assert re.search(r'label="ADR requested"[^>]*>\nno\n', scripted_llm.bodies[0]["messages"][1]["content"])
    assert docs.run(task(ticket, made)) == result, "a rerun reads the merged line back"


def test_an_ungrounded_changelog_line_keeps_the_title(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, merged: Callable[..., tuple[Ticket, DevResult]]
) -> None:
    ticket, made = merged()
    scripted_llm.say({"description": DESCRIPTION, "changelog": "Improve overall quality of life", "adr": None})
    result = docs.run(task(ticket, made))
    assert result.changelog_entry == changelog.entry_line(ticket, made.pr_id)


def test_an_adr_ticket_gets_the_models_draft_marked_as_such(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, merged: Callable[..., tuple[Ticket, DevResult]]
) -> None:
    ticket, made = merged(102, tags=["adr"], title="Bump requests to 2.32.3")
    draft = {"context": "requests 2.31.0 keeps skipping certificate checks for a host once verify=False was used.",
             "decision": "Pin requests to 2.32.3 until the next audit.",
             "consequences": ["Sessions verify certificates again", "The pin must be raised by hand"]}
    scripted_llm.say({"description": DESCRIPTION, "changelog": CHANGELOG, "adr": draft})
    result = docs.run(task(ticket, made))
    record = file_at(tenant_forge, DEMO_REPO, "main", result.adr_path or "") or ""
    assert "drafted by a model from the ticket" in record
    assert f"## Context\n\n{draft['context']}\n" in record
    assert "## Decision\n\nPin requests to 2.32.3 until the next audit.\n" in record
    assert "- Sessions verify certificates again\n- The pin must be raised by hand\n" in record
    assert re.search(r'label="ADR requested"[^>]*>\nyes\n', scripted_llm.bodies[0]["messages"][1]["content"])


def test_a_rerun_with_another_wording_adds_no_second_line() -> None:
    first = "- Pin requests to 2.32.3 (AB#102, PR #4)"
    text = changelog.add_entry(None, "Security", first)
    again = changelog.add_entry(text, "Security", "- Bump requests (AB#102, PR #4)")
    assert again == text and again.count("(AB#102, PR #4)") == 1
