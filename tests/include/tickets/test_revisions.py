from __future__ import annotations

from typing import Any

import pytest

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind, Ticket, TicketState
from include.tickets.revisions import OutboxKind, follow_up

BASE = Ticket(tenant="acme", workitem_id=5, rev=1, title="Add CSV export", description="Export orders.",
              acceptance_criteria=["a CSV downloads"], repo="web", change_kind=ChangeKind.FEATURE,
              risk_class=RiskClass.R2)


def rev(number: int, **changes: Any) -> Ticket:
    return BASE.model_copy(update={"rev": number, **changes})


CLOSED = {"state": TicketState.CLOSED, "source_state": "Closed"}


@pytest.mark.parametrize(("previous", "current", "kind"), [
    (None, rev(1), OutboxKind.SPAWN),
    (None, rev(1, **CLOSED), None),
    (rev(1), rev(2, title="Add CSV and XLSX export"), OutboxKind.REPLAN),
    (rev(1), rev(2, description="Export orders and refunds."), OutboxKind.REPLAN),
    (rev(1), rev(2, acceptance_criteria=["a CSV downloads", "UTF-8 with BOM"]), OutboxKind.REPLAN),
    (rev(1), rev(2, tags=["deps"], source_state="Active", requested_by="someone"), None),
    (rev(1), rev(2, **CLOSED), OutboxKind.CANCEL),
    (rev(1), rev(2, title="Changed while closing", **CLOSED), OutboxKind.CANCEL),
    (rev(2, **CLOSED), rev(3, **CLOSED), None),
    (rev(2, **CLOSED), rev(3), OutboxKind.SPAWN),
])
def test_follow_up(previous: Ticket | None, current: Ticket, kind: OutboxKind | None) -> None:
    assert follow_up(previous, current) == kind
