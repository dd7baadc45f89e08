from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from include.contracts import ChangeKind, PoResult, RiskClass, Ticket, parse_result
from include.contracts.export import SCHEMA_DIR, render

TICKET = Ticket(tenant="demo", workitem_id=7, rev=2, title="Bump requests to 2.32.3", repo="svc",
                change_kind=ChangeKind.DEPENDENCY_BUMP, risk_class=RiskClass.R1)


@pytest.mark.parametrize("name", sorted(render()))
def test_exported_schema_matches_model(name: str) -> None:
    assert (SCHEMA_DIR / name).read_text() == render()[name], "run `make schemas` and commit the result"


def test_ticket_names_follow_the_convention() -> None:
    assert TICKET.ticket_key == "demo-7"
    assert TICKET.dag_id == "ticket__demo__7"
    assert TICKET.branch == "tp/7-bump-requests-to-2-32-3"


def test_ticket_rejects_a_tenant_that_cannot_be_a_namespace() -> None:
    with pytest.raises(ValidationError, match="tenant"):
        Ticket.model_validate({**TICKET.model_dump(), "tenant": "Demo_Tenant"})


def test_result_union_dispatches_on_role() -> None:
    raw = json.dumps({"role": "po", "summary": "2 criteria", "checklist": [{"text": "tests pass", "check": "tests"}],
                      "change_kind": "dependency_bump", "risk_class": "R1"})
    assert isinstance(parse_result(raw), PoResult)
    with pytest.raises(ValidationError):
        parse_result({"role": "po", "summary": "missing checklist"})


def test_risk_classes_order_and_gates() -> None:
    assert RiskClass.R1.at_least(RiskClass.R3) is RiskClass.R3
    assert RiskClass.R3.at_least(RiskClass.R0) is RiskClass.R3
    assert [r.needs_gate for r in RiskClass] == [False, False, True, True]
    assert RiskClass.R3.required_approvals == 2
