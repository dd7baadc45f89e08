"""GateTrigger: waits in the triggerer (no worker slot) until a gate is decided or times out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, Literal, TypedDict

import psycopg
from airflow.triggers.base import BaseTrigger, TriggerEvent
from psycopg.rows import dict_row

from include.settings import get_settings


class GateEvent(TypedDict):
    """The one event a GateTrigger yields; shared with GateSensor.execute_complete."""

    status: Literal["approved", "rejected", "timeout", "error"]
    ticket_key: str
    run_id: str
    message: str
    decisions: list[dict[str, str]]


class GateTrigger(BaseTrigger):
    """Poll the gate's row until its status leaves `pending`; one cheap indexed query per interval."""

    def __init__(
        self, *, ticket_key: str, run_id: str, timeout_at: float, poll_interval: float = 2.0
    ) -> None:
        super().__init__()
        self.ticket_key = ticket_key
        self.run_id = run_id
        self.timeout_at = timeout_at
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ticket_key": self.ticket_key,
                "run_id": self.run_id,
                "timeout_at": self.timeout_at,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except Exception as exc:  # every failure becomes a payload the task can report
            event = self._event("error", f"{type(exc).__name__}: {exc}")
        yield TriggerEvent(event)

    async def _wait(self) -> GateEvent:
        db_url = get_settings().require_db()  # from the triggerer's env: credentials never enter the trigger table
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
            while True:
                cur = await conn.execute(
                    "SELECT status FROM ticketpilot.gate_requests WHERE ticket_key = %s AND run_id = %s",
                    (self.ticket_key, self.run_id),
                )
                row = await cur.fetchone()
                if row is None:
                    return self._event("error", f"gate for {self.ticket_key} run {self.run_id} does not exist")
                if row["status"] != "pending":
                    cur = await conn.execute(
                        "SELECT approver, decision, comment, source FROM ticketpilot.gate_decisions "
                        "WHERE ticket_key = %s AND run_id = %s ORDER BY id",
                        (self.ticket_key, self.run_id),
                    )
                    made = [{k: str(v) for k, v in d.items()} for d in await cur.fetchall()]
                    return self._event(row["status"], f"gate {row['status']}", made)
                if time.time() >= self.timeout_at:
                    return self._event("timeout", f"gate for {self.ticket_key} was not decided in time")
                await asyncio.sleep(self.poll_interval)

    def _event(self, status: str, message: str, decisions: list[dict[str, str]] | None = None) -> GateEvent:
        return GateEvent(status=status, ticket_key=self.ticket_key, run_id=self.run_id,  # type: ignore[typeddict-item]
                         message=message, decisions=decisions or [])
