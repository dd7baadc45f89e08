"""GateTrigger: waits in the triggerer (no worker slot) until a gate is decided or times out.

It waits on the triggerer's shared GateWaiter (triggers/gate_waiter.py): no connection and no polling loop of
its own, however many gates are parked. An approval ends the task here (`TaskSuccessEvent`, the sensor's return
value as its XCom): resuming on a worker only to return that value cost a worker start and a scheduler round
before the merge could start (bench/parked.py). Rejections, timeouts and errors resume `execute_complete`, which
fails the task with its message.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Literal, TypedDict

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from include.settings import get_settings
from triggers.gate_votes import AdoVotes
from triggers.gate_waiter import GateWaiter


class GateEvent(TypedDict):
    """The one event a GateTrigger yields; shared with GateSensor.execute_complete."""

    status: Literal["approved", "rejected", "timeout", "error"]
    ticket_key: str
    run_id: str
    message: str
    decisions: list[dict[str, str]]


def approved_value(decisions: list[dict[str, str]]) -> dict[str, Any]:
    """The gate task's XCom when approved, whether the trigger or the sensor ends the task."""
    return {"status": "approved", "decisions": decisions}


class GateTrigger(BaseTrigger):
    """Wait until the gate's row leaves `pending`. For an ado tenant (`ado_votes`), the approvers' votes on the
    PR in ADO are read every `poll_interval` seconds and recorded as decisions. `end_on_approval`: an approval
    ends the task from the triggerer (a trigger serialized before it existed resumes on a worker, as it did)."""

    def __init__(
        self, *, ticket_key: str, run_id: str, timeout_at: float, poll_interval: float = 2.0,
        ado_votes: AdoVotes | None = None, end_on_approval: bool = False,
    ) -> None:
        super().__init__()
        self.ticket_key = ticket_key
        self.run_id = run_id
        self.timeout_at = timeout_at
        self.poll_interval = poll_interval
        self.ado_votes = ado_votes
        self.end_on_approval = end_on_approval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ticket_key": self.ticket_key,
                "run_id": self.run_id,
                "timeout_at": self.timeout_at,
                "poll_interval": self.poll_interval,
                "ado_votes": self.ado_votes,
                "end_on_approval": self.end_on_approval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except Exception as exc:  # every failure becomes a payload the task can report
            event = self._event("error", f"{type(exc).__name__}: {exc}")
        if event["status"] == "approved" and self.end_on_approval:
            self.log.info("Gate approved for %s by %s", self.ticket_key, [d["approver"] for d in event["decisions"]])
            yield TaskSuccessEvent(xcoms={"return_value": approved_value(event["decisions"])})
            return
        yield TriggerEvent(event)

    async def _wait(self) -> GateEvent:
        db_url = get_settings().require_db()  # from the triggerer's env: credentials never enter the trigger table
        waiter = GateWaiter.current(db_url)
        outcome = await waiter.wait((self.ticket_key, self.run_id), self.timeout_at - time.time(),
                                    ado_votes=self.ado_votes, ado_poll_s=self.poll_interval)
        if outcome.status == "missing":
            return self._event("error", f"gate for {self.ticket_key} run {self.run_id} does not exist")
        if outcome.status == "timeout":
            return self._event("timeout", f"gate for {self.ticket_key} was not decided in time")
        if outcome.status == "error":
            return self._event("error", outcome.message)
        return self._event(outcome.status, f"gate {outcome.status}", outcome.decisions)

    def _event(self, status: str, message: str, decisions: list[dict[str, str]] | None = None) -> GateEvent:
        return GateEvent(status=status, ticket_key=self.ticket_key, run_id=self.run_id,  # type: ignore[typeddict-item]
                         message=message, decisions=decisions or [])
