"""GateTrigger: waits in the triggerer (no worker slot) until a gate is decided or times out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, Literal, TypedDict

import psycopg
from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async
from psycopg.rows import dict_row

from hooks.ado import AzureDevOpsHook
from include.scm.ado.client import AdoClient
from include.settings import get_settings
from include.store.db import connect
from include.store.tickets import record_ado_decisions
from include.tickets.ado_events import ReviewerVote, approver_votes


class GateEvent(TypedDict):
    """The one event a GateTrigger yields; shared with GateSensor.execute_complete."""

    status: Literal["approved", "rejected", "timeout", "error"]
    ticket_key: str
    run_id: str
    message: str
    decisions: list[dict[str, str]]


class AdoVotes(TypedDict):
    """Where an ado tenant's gate also reads decisions: the ticket PR's reviewer votes in Azure DevOps."""

    azure_devops_conn_id: str
    repo: str
    pr_id: int
    approvers: list[str]


def pull_ado_votes(client: AdoClient, votes: AdoVotes, ticket_key: str) -> int:
    """Record the deciding votes of the tenant's approvers on the PR as gate decisions (source 'ado');
    the same rule and store as the `git.pullrequest.updated` hook path, so a lost hook delays nothing and a
    vote seen both ways counts once. Returns the number of new decisions."""
    reviewers = client.list_reviewers(votes["repo"], votes["pr_id"])
    cast = tuple(ReviewerVote(unique_name=r.unique_name, display_name=r.display_name, vote=r.vote)
                 for r in reviewers if r.unique_name and not r.is_container)
    decided = approver_votes(cast, votes["approvers"])
    if not decided:
        return 0
    with connect() as conn:
        return record_ado_decisions(conn, ticket_key, votes["pr_id"], decided)


class GateTrigger(BaseTrigger):
    """Poll the gate's row until its status leaves `pending`; one cheap indexed query per interval. For an
    ado tenant (`ado_votes`), each interval first records the approvers' votes cast on the PR in ADO."""

    def __init__(
        self, *, ticket_key: str, run_id: str, timeout_at: float, poll_interval: float = 2.0,
        ado_votes: AdoVotes | None = None,
    ) -> None:
        super().__init__()
        self.ticket_key = ticket_key
        self.run_id = run_id
        self.timeout_at = timeout_at
        self.poll_interval = poll_interval
        self.ado_votes = ado_votes

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "ticket_key": self.ticket_key,
                "run_id": self.run_id,
                "timeout_at": self.timeout_at,
                "poll_interval": self.poll_interval,
                "ado_votes": self.ado_votes,
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
        client = None
        if self.ado_votes is not None:  # credentials come from the connection, read here in the triggerer
            client = await sync_to_async(AzureDevOpsHook(self.ado_votes["azure_devops_conn_id"]).get_conn)()
        try:
            return await self._poll(db_url, client)
        finally:
            if client is not None:
                client.close()

    async def _poll(self, db_url: str, client: AdoClient | None) -> GateEvent:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
            while True:
                if client is not None and self.ado_votes is not None:
                    await sync_to_async(pull_ado_votes)(client, self.ado_votes, self.ticket_key)
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
