"""The labelled ticket table (tickets.yaml): every ticket gets the kind its text asks for, at no less than its
minimum risk class; a ticket no playbook fits is a `feature`, never a playbook's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.risk import classify

TICKETS: list[dict[str, Any]] = yaml.safe_load(Path(__file__).with_name("tickets.yaml").read_text(encoding="utf-8"))
RANK = {risk: rank for rank, risk in enumerate(RiskClass)}


def test_the_table_is_large_and_covers_every_kind_in_both_languages() -> None:
    assert len(TICKETS) >= 80
    assert {ticket["kind"] for ticket in TICKETS} == {kind.value for kind in ChangeKind}
    german = [t for t in TICKETS if any(ch in t["title"] + t.get("description", "") for ch in "äöüß")
              or any(word in t["title"].split() for word in ("auf", "aus", "für", "im", "entfernen"))]
    assert {t["kind"] for t in german} == {kind.value for kind in ChangeKind}


@pytest.mark.parametrize("ticket", TICKETS, ids=[f"{i:02d}-{t['title'][:40]}" for i, t in enumerate(TICKETS)])
def test_kind_and_minimum_risk(ticket: dict[str, Any]) -> None:
    kind, risk = classify(ticket["title"], ticket.get("description", ""), ticket.get("tags", []),
                          ticket.get("type", "Task"))
    assert kind is ChangeKind(ticket["kind"])
    assert RANK[risk] >= RANK[RiskClass(ticket["risk"])], f"{risk} is below the minimum {ticket['risk']}"
