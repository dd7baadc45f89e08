"""Review with a model: the deterministic review (findings, status, publish) plus the model's summary and
risks as one marked PR comment; without a valid answer, the deterministic review alone."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from include.agents import dev, review
from include.contracts import AgentRole, AgentTask, DevResult, Ticket
from include.scm.local import LocalForge
from model_serving.router.ledger import calls
from tests.include.agents.conftest import MODEL, ScriptedLlm

MakeTicket = Callable[..., Ticket]
BUMP = 102
SUMMARY = "Pins requests to 2.32.3, the release that fixes CVE-2024-35195; nothing else changes."
RISKS = ["requests 2.32 changed how verify=False sessions are reused: check the payment client's session"]


@pytest.fixture
def bumped(tenant_forge: LocalForge, demo_ticket: MakeTicket) -> tuple[Ticket, DevResult]:
    """The bump ticket's PR, made by its deterministic playbook (no model call)."""
    ticket = demo_ticket(BUMP, tenant=tenant_forge.tenant)
    return ticket, dev.run(AgentTask(role=AgentRole.DEV, ticket=ticket, run_id="manual__review"))


def review_task(ticket: Ticket, result: DevResult) -> AgentTask:
    return AgentTask(role=AgentRole.REVIEW, ticket=ticket, run_id="manual__review",
                     upstream={"dev": result.model_dump(mode="json")})


def test_the_models_summary_is_posted_after_the_deterministic_review(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, bumped: tuple[Ticket, DevResult], db: psycopg.Connection
) -> None:
    ticket, made = bumped
    scripted_llm.say({"summary": SUMMARY, "risks": RISKS})
    result = review.run(review_task(ticket, made))
    assert (result.ok, result.blocking, result.findings, result.comments_posted) == (True, False, [], 2)
    assert (result.model_summary, result.model_risks, result.summarised_by) == (SUMMARY, RISKS, MODEL)
    assert result.summary == (f"PR #{made.pr_id}: 0 findings (0 high) in 1 changed files; published for review; "
                              f"summarised by {MODEL}")
    pinned = next(c for c in result.criteria if "requests" in c.text)
    assert (pinned.status, pinned.evidence) == ("met", "pinned in requirements.txt")
    criteria, comment = tenant_forge.comments(made.pr_id)
    assert criteria.body.startswith("**Acceptance criteria**"), "the criteria first: they are the verdict's evidence"
    assert comment.body == (f"**Summary** (written by {MODEL}: a model's reading of the diff, not a verdict)\n\n"
                            f"{SUMMARY}\n\nRisks to check:\n\n- {RISKS[0]}")
    assert tenant_forge.statuses(made.pr_id)["review"] == "succeeded"
    assert tenant_forge.get_pr(made.pr_id).is_draft is False
    [sent] = scripted_llm.bodies
    assert '<untrusted-data label="pull request diff"' in sent["messages"][1]["content"]
    assert "+requests==2.32.3" in sent["messages"][1]["content"]
    [row] = calls(db, ticket.tenant)
    assert (row["step"], row["prompt_version"]) == ("review.summary", "review_summary.v1.0.0")

    again = review.run(review_task(ticket, made))
    assert (again.comments_posted, again.model_summary) == (0, SUMMARY), "the cached answer, the same comment"
    assert len(tenant_forge.comments(made.pr_id)) == 2 and len(calls(db, ticket.tenant)) == 1


@pytest.mark.parametrize("failure", ["invalid twice", "provider down"])
def test_without_a_valid_answer_the_review_is_the_deterministic_one(
    scripted_llm: ScriptedLlm, tenant_forge: LocalForge, bumped: tuple[Ticket, DevResult], failure: str
) -> None:
    ticket, made = bumped
    if failure == "invalid twice":
        scripted_llm.say({"summary": "too short"}, {"summary": SUMMARY, "risks": ["two\nlines"]})
    else:
        scripted_llm.emulator.fail_next("500")
    result = review.run(review_task(ticket, made))
    assert result.summary == f"PR #{made.pr_id}: 0 findings (0 high) in 1 changed files; published for review"
    assert (result.model_summary, result.model_risks, result.summarised_by) == (None, [], None)
    assert result.comments_posted == 1
    assert [c.body.split("\n")[0] for c in tenant_forge.comments(made.pr_id)] == ["**Acceptance criteria**"]
    assert tenant_forge.statuses(made.pr_id)["review"] == "succeeded"
