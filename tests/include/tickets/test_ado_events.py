from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from include.contracts.gate import GateOutcome
from include.tickets.ado import AdoDelivery, DeliveryError
from include.tickets.ado_events import (
    BuildDelivery,
    CommentDelivery,
    DeliveryScope,
    HookEvent,
    PullRequestDelivery,
    ReviewerVote,
    approver_votes,
    parse_event,
    scope_mismatch,
    ticket_of_branch,
)

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "ado-events"
TENANT = "acme"
BRANCH = "refs/heads/tp/5-some-great-new-idea"
SAMPLE_PROJECT_ID = "be9b3917-87e6-42a4-a549-2bc06a7a878f"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def parse(payload: object) -> HookEvent:
    return parse_event(payload, tenant=TENANT, default_repo="web")


def test_work_item_events_carry_the_ticket_and_their_scope() -> None:
    event = parse(load_event("workitem.created"))
    assert isinstance(event.body, AdoDelivery) and event.body.ticket.ticket_key == "acme-5"
    assert event.scope == DeliveryScope(organisations=frozenset({"fabrikam-fiber-inc"}),
                                        project_names=frozenset({"FabrikamCloud"}),
                                        project_ids=frozenset({SAMPLE_PROJECT_ID}))
    assert parse(load_event("workitem.updated")).scope.organisations == {"fabrikam-fiber-inc"}


def test_comment_sample() -> None:
    event = parse(load_event("workitem.commented"))
    assert event.body == CommentDelivery(
        event_id="fb2617ed-60df-4518-81fa-749faa6c5cd6", ticket_key="acme-5", workitem_id=5, rev=4,
        author="Jamal Hartnett", text="This is a great new idea", commented_at=event.body.commented_at)
    assert event.body.commented_at is not None and event.body.commented_at.year == 2014


def test_comment_without_text_is_refused() -> None:
    payload = load_event("workitem.commented")
    del payload["resource"]["fields"]["System.History"]
    with pytest.raises(DeliveryError, match=r"System.History'\] \(the comment\) is missing"):
        parse(payload)


def test_pull_request_sample_is_not_a_ticket_branch_and_drops_group_reviewers() -> None:
    event = parse(load_event("git.pullrequest.updated"))
    body = event.body
    assert isinstance(body, PullRequestDelivery)
    assert (body.pull_request_id, body.source_branch, body.status, body.ticket_key) == (
        1, "refs/heads/mytopic", "completed", None)
    assert body.reviewers == ()  # the sample's only reviewer is a team (isContainer)
    assert event.scope.organisations == {"fabrikam"}
    assert event.scope.project_names == {"Fabrikam"}
    assert event.scope.project_ids == {SAMPLE_PROJECT_ID, "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c"}


def test_pull_request_on_a_ticket_branch_with_votes() -> None:
    payload = load_event("git.pullrequest.updated")
    payload["resource"]["sourceRefName"] = BRANCH
    payload["resource"]["reviewers"].append({"uniqueName": "Alice@Example.com", "displayName": "Alice", "vote": 10})
    body = parse(payload).body
    assert isinstance(body, PullRequestDelivery) and body.ticket_key == "acme-5"
    assert body.reviewers == (ReviewerVote(unique_name="Alice@Example.com", display_name="Alice", vote=10),)


def test_build_sample_reads_the_xaml_branch_and_status() -> None:
    body = parse(load_event("build.complete")).body
    assert isinstance(body, BuildDelivery)
    assert (body.build_id, body.branch, body.ticket_key, body.result, body.definition) == (
        2, "refs/heads/master", None, "succeeded", "ConsumerAddressModule")
    assert body.pull_request_id is None and body.finished_at is not None


def test_pr_validation_build_of_a_ticket_branch() -> None:
    payload = load_event("build.complete")
    payload["resource"].update(status="completed", result="failed", sourceBranch="refs/pull/17/merge",
                               triggerInfo={"pr.number": "17", "pr.sourceBranch": BRANCH})
    body = parse(payload).body
    assert isinstance(body, BuildDelivery)
    assert (body.branch, body.ticket_key, body.pull_request_id, body.result) == (BRANCH, "acme-5", 17, "failed")


def test_unknown_event_type_lists_the_supported_ones() -> None:
    with pytest.raises(DeliveryError, match=r"'git.push' is not supported; supported: workitem.created, "
                                            r"workitem.updated, workitem.commented, git.pullrequest.updated, "
                                            r"build.complete"):
        parse(load_event("git.push"))


@pytest.mark.parametrize(("ref", "key"), [
    (BRANCH, "acme-5"), ("refs/heads/tp/12", "acme-12"), ("refs/heads/tp/12x", None),
    ("refs/heads/feature/tp/5-x", None), ("refs/heads/tp/0-x", None), ("", None)])
def test_ticket_of_branch(ref: str, key: str | None) -> None:
    assert ticket_of_branch(TENANT, ref) == key


def test_approver_votes_match_unique_names_only() -> None:
    reviewers = (ReviewerVote(unique_name="ALICE@example.com", vote=10),
                 ReviewerVote(unique_name="bob@example.com", vote=5),
                 ReviewerVote(unique_name="carol@example.com", display_name="dave@example.com", vote=10),
                 ReviewerVote(unique_name="dave@example.com", vote=-5),
                 ReviewerVote(unique_name="erin@example.com", vote=-10),
                 ReviewerVote(unique_name="frank@example.com", vote=0))
    approvers = ["alice@example.com", "bob@example.com", "dave@example.com", "erin@example.com",
                 "frank@example.com"]
    assert approver_votes(reviewers, {a: a for a in approvers}) == [
        ("alice@example.com", GateOutcome.APPROVE), ("bob@example.com", GateOutcome.APPROVE),
        ("erin@example.com", GateOutcome.REJECT)]


SCOPE = DeliveryScope(organisations=frozenset({"fabrikam-fiber-inc"}), project_names=frozenset({"FabrikamCloud"}),
                      project_ids=frozenset({SAMPLE_PROJECT_ID}))


@pytest.mark.parametrize(("org", "project", "reason"), [
    (None, None, None),
    ("Fabrikam-Fiber-Inc", "fabrikamcloud", None),
    (None, SAMPLE_PROJECT_ID.upper(), None),
    ("contoso", None, "the delivery comes from organisation 'fabrikam-fiber-inc', not 'contoso'"),
    (None, "Other", "the delivery comes from project 'FabrikamCloud', not 'Other'"),
    (None, "11111111-2222-3333-4444-555555555555",
     f"the delivery comes from project '{SAMPLE_PROJECT_ID}', not '11111111-2222-3333-4444-555555555555'"),
])
def test_scope_mismatch(org: str | None, project: str | None, reason: str | None) -> None:
    assert scope_mismatch(SCOPE, org, project) == reason


def test_a_delivery_naming_nothing_cannot_contradict_the_tenant() -> None:
    assert scope_mismatch(DeliveryScope(), "contoso", "Web") is None
