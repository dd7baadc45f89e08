"""The door the GitHub and GitLab hooks share with ADO's: Markdown acceptance criteria, timestamp revisions,
tenant scopes, and one ticket per item whichever tracker sends it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from include.store.tenants import create_tenant
from include.store.tickets import TicketConflict, accept_delivery
from include.tickets.ado import parse_ado_delivery
from include.tickets.gitlab import parse_gitlab_event
from include.tickets.markdown import split_criteria
from include.tickets.normalise import DeliveryError, TicketDelivery, outside_scope, timestamp_rev

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize(("body", "description", "criteria"), [
    ("Just text.", "Just text.", []),
    ("Intro\n\n## Acceptance criteria\n- [ ] one\n- [x] two\n* three\n1. four\n\n## Notes\nkeep",
     "Intro\n\n## Notes\nkeep", ["one", "two", "three", "four"]),
    ("# Acceptance Criteria:\r\n- [ ] a long\r\n  item\r\nprose line\r\n### Edge cases\r\n- [X] b",
     "", ["a long item", "prose line", "Edge cases", "b"]),
    ("## Acceptance criteria ##\n- [ ]\n- [ ] kept\n# Next\nafter", "# Next\nafter", ["kept"]),
    ("```\n## Acceptance criteria\n- not a section\n```", "```\n## Acceptance criteria\n- not a section\n```", []),
    ("## Acceptance criteria\n```\n## not a heading\n```\n- x", "", ["## not a heading", "x"]),
])
def test_markdown_criteria_come_out_of_the_description(body: str, description: str, criteria: list[str]) -> None:
    assert split_criteria(body) == (description, criteria)


def test_ticking_a_box_changes_neither_description_nor_criteria() -> None:
    body = "Text\n\n## Acceptance criteria\n- [ ] header row\n"
    assert split_criteria(body) == split_criteria(body.replace("[ ]", "[x]"))


@pytest.mark.parametrize(("value", "seconds"), [
    ("2019-05-15T15:20:18Z", 1557933618),
    ("2019-05-15T17:20:18+02:00", 1557933618),
    ("2019-05-15 15:20:18 UTC", 1557933618),
    ("2019-05-15T15:20:18.109Z", 1557933618),
    ("2019-05-15T15:20:18", 1557933618),
    ("2040-01-01T00:00:00Z", 2208988800),  # past int4: the rev columns are bigint
])
def test_timestamp_revisions(value: str, seconds: int) -> None:
    assert timestamp_rev(value, "updated_at")[0] == seconds


@pytest.mark.parametrize("value", ["", "today", "1969-12-31T23:59:59Z"])
def test_a_bad_timestamp_says_where(value: str) -> None:
    with pytest.raises(DeliveryError, match="^updated_at "):
        timestamp_rev(value, "updated_at")


@pytest.mark.parametrize(("path", "declared", "outside"), [
    ("acme/web", "acme", False), ("Acme/Web", "acme/web", False), ("acme/web", "acme/", False),
    ("acme/platform/web", "acme/platform", False), ("acme-fork/web", "acme", True), ("acme/web2", "acme/web", True),
    ("other/web", "acme", True),
])
def test_scopes(path: str, declared: str, outside: bool) -> None:
    assert outside_scope(path, declared) is outside


def test_a_ticket_belongs_to_one_item_whichever_tracker_sends_it(db: psycopg.Connection, db_url: str) -> None:
    create_tenant(db, "acme", "ado-acme", "s1", "web", [])
    ado = json.loads((FIXTURES / "ado-events" / "workitem.created.json").read_text())
    ado["resource"]["id"] = 23
    assert not accept_delivery(db, parse_ado_delivery(ado, tenant="acme", default_repo="web")).duplicate
    gitlab = json.loads((FIXTURES / "gitlab-events" / "issue.open.json").read_text())
    issue = parse_gitlab_event("Issue Hook", "uuid-1", gitlab, tenant="acme").body
    assert isinstance(issue, TicketDelivery) and issue.ticket.ticket_key == "acme-23"
    with pytest.raises(TicketConflict, match="^ticket acme-23 belongs to .*, not to http://example.com/diaspora"):
        accept_delivery(db, issue)
    stored = db.execute("SELECT t.ticket->>'source' AS source, t.origin, (SELECT count(*) FROM "
                        "ticketpilot.deliveries) AS deliveries FROM ticketpilot.tickets t").fetchone()
    assert stored == {"source": "ado", "origin": None, "deliveries": 1}
