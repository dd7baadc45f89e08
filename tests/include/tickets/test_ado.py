from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind, TicketState
from include.tickets.ado import AdoDelivery, DeliveryError, html_lines, parse_ado_delivery, parse_tags

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "ado-events"
TENANT = "acme"
DEFAULT_REPO = "web"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def parse(payload: object) -> AdoDelivery:
    return parse_ado_delivery(payload, tenant=TENANT, default_repo=DEFAULT_REPO)


@pytest.fixture
def created() -> dict[str, Any]:
    return load_event("workitem.created")


@pytest.fixture
def updated() -> dict[str, Any]:
    return load_event("workitem.updated")


def test_created_sample_becomes_a_ticket(created: dict[str, Any]) -> None:
    delivery = parse(created)
    ticket = delivery.ticket
    assert (delivery.event_id, delivery.event_type) == ("d2d46fb1-dba5-403c-9373-427583f19e8c", "workitem.created")
    assert (delivery.workitem_id, delivery.rev) == (5, 1)
    assert (delivery.organisation, delivery.project, delivery.changed_by) == (
        "fabrikam-fiber-inc", "FabrikamCloud", "Jamal Hartnett")
    assert ticket.ticket_key == "acme-5" and ticket.dag_id == "ticket__acme__5"
    assert ticket.title == "Some great new idea!"
    assert (ticket.work_item_type, ticket.source_state, ticket.state) == ("Bug", "New", TicketState.OPEN)
    assert (ticket.change_kind, ticket.risk_class) == (ChangeKind.FEATURE, RiskClass.R2)
    assert ticket.repo == DEFAULT_REPO and ticket.requested_by == "Jamal Hartnett"
    assert ticket.url.endswith("/_apis/wit/workItems/5")
    assert ticket.changed_at is not None and ticket.changed_at.year == 2014


def test_updated_sample_reads_the_revision_snapshot(updated: dict[str, Any]) -> None:
    assert updated["resource"]["workItemId"] == 0  # the sample's known slip: the snapshot carries the id
    delivery = parse(updated)
    assert (delivery.workitem_id, delivery.rev, delivery.event_type) == (5, 2, "workitem.updated")
    assert delivery.ticket.title == "Some great new idea!"
    assert delivery.ticket.ticket_key == "acme-5"
    assert delivery.ticket.url.endswith("/_apis/wit/workItems/5")


def test_updated_prefers_a_real_work_item_id(updated: dict[str, Any]) -> None:
    updated["resource"]["workItemId"] = 42
    assert parse(updated).workitem_id == 42


def test_description_criteria_tags_and_state(created: dict[str, Any]) -> None:
    created["resource"]["fields"].update({
        "System.Title": "Bump requests to 2.32.3",
        "System.Description": "<div>Pin it in <b>requirements.txt</b>.</div><div>Then test&nbsp;it.</div>",
        "Microsoft.VSTS.Common.AcceptanceCriteria":
            "<ul><li>tests pass</li><li>lock file &amp; pins agree</li></ul>- no new warnings<br>1. CI green",
        "System.Tags": "deps; repo:billing-api; deps ;  ",
        "System.State": "Done",
        "System.CreatedBy": {"displayName": "Ana Lima", "uniqueName": "ana@example.com"},
    })
    ticket = parse(created).ticket
    assert ticket.description == "Pin it in requirements.txt.\nThen test it."
    assert ticket.acceptance_criteria == ["tests pass", "lock file & pins agree", "no new warnings", "CI green"]
    assert ticket.tags == ["deps", "repo:billing-api"]
    assert ticket.repo == "billing-api"
    assert ticket.state is TicketState.CLOSED and ticket.source_state == "Done"
    assert ticket.requested_by == "Ana Lima <ana@example.com>"
    assert (ticket.change_kind, ticket.risk_class) == (ChangeKind.DEPENDENCY_BUMP, RiskClass.R1)


def test_a_bugs_text_is_read_from_its_repro_steps_and_system_info(created: dict[str, Any]) -> None:
    """The Bug form has no Description: a Bug read from Description alone reached the agents as a title."""
    created["resource"]["fields"].update({
        "System.WorkItemType": "Bug",
        "System.Title": "Invoice total is wrong for discounted lines",
        "Microsoft.VSTS.TCM.ReproSteps": "<ol><li>Create an invoice with a 10% discount line</li>"
                                         "<li>Open <b>Totals</b></li></ol><div>Expected 90.00, got 100.00</div>",
        "Microsoft.VSTS.TCM.SystemInfo": "<div>invoicing-service 2.4.1, Python 3.11</div>",
    })
    created["resource"]["fields"].pop("System.Description", None)
    ticket = parse(created).ticket
    assert ticket.description == ("Repro steps:\nCreate an invoice with a 10% discount line\nOpen Totals\n"
                                  "Expected 90.00, got 100.00\nSystem info:\ninvoicing-service 2.4.1, Python 3.11")
    created["resource"]["fields"]["System.Description"] = "<div>Seen by two customers.</div>"
    assert parse(created).ticket.description.startswith("Seen by two customers.\nRepro steps:\n"), \
        "a Description, where a process has one on its Bug form, comes first"


@pytest.mark.parametrize("state", ["Closed", "removed", "Done"])
def test_closed_states(created: dict[str, Any], state: str) -> None:
    created["resource"]["fields"]["System.State"] = state
    assert parse(created).ticket.state is TicketState.CLOSED


def test_organisation_from_container_base_url(created: dict[str, Any]) -> None:
    created["resourceContainers"]["account"]["baseUrl"] = "https://contoso.visualstudio.com/"
    assert parse(created).organisation == "contoso"


def test_commented_is_not_supported_and_says_what_is() -> None:
    with pytest.raises(DeliveryError, match=r"'workitem.commented' is not supported; supported: "
                                            r"workitem.created, workitem.updated"):
        parse(load_event("workitem.commented"))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.pop("eventType"), "eventType is missing"),
        (lambda p: p.pop("id"), r"id \(the event id\) is missing"),
        (lambda p: p.pop("resource"), "resource is missing"),
        (lambda p: p.update(resource=[1]), "resource is missing or not an object"),
        (lambda p: p["resource"].pop("id"), r"resource.id \(the work item id\) is missing"),
        (lambda p: p["resource"].pop("rev"), "resource.rev is missing"),
        (lambda p: p["resource"]["fields"].pop("System.Title"), r"resource.fields\['System.Title'\] is missing"),
        (lambda p: p["resource"]["fields"].update({"System.Title": "  "}), "is missing or empty"),
        (lambda p: p["resource"].update(rev="two"), "resource: rev: Input should be a valid integer"),
        (lambda p: p["resource"]["fields"].update({"System.Tags": "repo:no/slashes"}),
         "resource does not make a valid ticket: repo"),
    ],
)
def test_created_rejections_say_why(created: dict[str, Any], mutate: Any, reason: str) -> None:
    mutate(created)
    with pytest.raises(DeliveryError, match=reason):
        parse(created)


def test_updated_without_revision_says_where_the_snapshot_should_be(updated: dict[str, Any]) -> None:
    del updated["resource"]["revision"]
    with pytest.raises(DeliveryError, match="resource.revision is missing"):
        parse(updated)


def test_updated_without_any_id(updated: dict[str, Any]) -> None:
    del updated["resource"]["revision"]["id"]
    with pytest.raises(DeliveryError, match=r"resource.revision.id \(the work item id\) is missing"):
        parse(updated)


@pytest.mark.parametrize(("payload", "kind"), [([], "an array"), ("x", "a string"), (None, "null"), (3, "a number")])
def test_non_object_json_is_rejected(payload: object, kind: str) -> None:
    with pytest.raises(DeliveryError, match=f"must be a JSON object, got {kind}"):
        parse(payload)


def test_parsing_does_not_mutate_the_payload(created: dict[str, Any]) -> None:
    before = copy.deepcopy(created)
    parse(created)
    assert created == before


def test_parse_tags_and_html_lines_helpers() -> None:
    assert parse_tags("") == []
    assert parse_tags("a;b; a") == ["a", "b"]
    assert html_lines("<p>one</p><script>alert(1)</script><p>two<br/>three</p>") == ["one", "two", "three"]


def test_where_the_team_files_it_comes_from_the_sample(created: dict[str, Any]) -> None:
    ticket = parse(created).ticket
    assert (ticket.area_path, ticket.iteration_path) == ("FabrikamCloud", "FabrikamCloud\\Release 1\\Sprint 1")
    assert (ticket.severity, ticket.parent_id) == ("", None), "the sample has neither"


def test_a_bugs_severity_and_its_parent_field(created: dict[str, Any]) -> None:
    created["resource"]["fields"].update({"System.WorkItemType": "Bug", "Microsoft.VSTS.Common.Severity": "2 - High",
                                          "System.Parent": 297})
    ticket = parse(created).ticket
    assert (ticket.severity, ticket.parent_id) == ("2 - High", 297)


def test_the_parent_from_the_snapshots_hierarchy_link(updated: dict[str, Any]) -> None:
    """The relations as Get Work Item with $expand=relations shows them (ADO's OpenAPI example): the
    Hierarchy-Reverse link is the parent; a Related link is not."""
    updated["resource"]["revision"]["relations"] = [
        {"rel": "System.LinkTypes.Related", "url": "https://dev.azure.com/fabrikam/_apis/wit/workItems/300",
         "attributes": {"isLocked": False, "comment": "adding another task"}},
        {"rel": "System.LinkTypes.Hierarchy-Reverse", "url": "https://dev.azure.com/fabrikam/_apis/wit/workItems/297",
         "attributes": {"isLocked": False, "comment": "decomposition of work"}},
    ]
    assert parse(updated).ticket.parent_id == 297


@pytest.mark.parametrize("relations", [
    "not a list", [None, 3], [{"rel": "System.LinkTypes.Hierarchy-Reverse"}],
    [{"rel": "System.LinkTypes.Hierarchy-Reverse", "url": "https://dev.azure.com/f/_apis/wit/workItems/abc"}],
])
def test_unreadable_links_mean_no_parent_not_a_refused_ticket(updated: dict[str, Any], relations: object) -> None:
    updated["resource"]["revision"]["relations"] = relations
    updated["resource"]["revision"]["fields"]["System.Parent"] = "n/a"
    assert parse(updated).ticket.parent_id is None
