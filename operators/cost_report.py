"""CostReportOperator: the ticket DAG's last step states what the ticket cost in model calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator

from include.contracts import Ticket
from include.costs import ticket_cost


class CostReportOperator(BaseOperator):
    """Log and return the ticket's ledger total (calls, tokens, cost, per step) for the run's record.

    :param ticket: the Ticket as a JSON-able dict.
    """

    ui_color = "#ede9fe"

    def __init__(self, *, ticket: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticket = dict(ticket)

    def execute(self, context: Any) -> dict[str, Any]:
        cost = ticket_cost(Ticket.model_validate(self.ticket))
        self.log.info("Ticket cost: %s", cost.line())
        return cost.model_dump(mode="json")
