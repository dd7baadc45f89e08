"""One shared waiter per triggerer event loop for every deferred gate (ADR 0013).

A parked gate costs a dict entry and a future, not a connection or a polling loop: the waiter holds one
connection that LISTENs on `GATE_CHANNEL` (decisions NOTIFY it when they commit) and one pooled connection
for its reads, whatever the number of gates. Reads are batched: a wake-up checks only the gates it names;
every `TICKETPILOT_GATE_RECHECK_S` seconds (60 by default) ONE query re-checks all of them, so a lost
notification delays a decision but never loses it; after a lost LISTEN connection, the waiter reconnects with
backoff and re-checks everything. A database outage delays gates (timeouts included), it never fails them.

The waiter starts with its first gate and stops, closing both connections, when its last gate leaves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from asgiref.sync import sync_to_async

from include.scm.ado.client import AdoClient
from include.store.gates import GATE_CHANNEL
from include.store.pool import Backoff, async_connection, new_async_pool
from triggers.gate_votes import AdoVotes, pull_votes_by_connection

log = logging.getLogger("ticketpilot.triggers.gate")

GateKey = tuple[str, str]
"""(ticket_key, run_id)"""
RECHECK_ENV = "TICKETPILOT_GATE_RECHECK_S"
DEFAULT_RECHECK_S = 60.0
ADO_IDLE_S = 1.0
"""How soon a newly parked ado gate gets its first read of votes when none was waiting."""


@dataclass(frozen=True)
class Outcome:
    """What the waiter found: `approved`/`rejected` with the decisions, `timeout`, `missing`, or `error`."""

    status: str
    decisions: list[dict[str, str]] = field(default_factory=list)
    message: str = ""


@dataclass
class _Watch:
    deadline: float  # loop time
    futures: list[asyncio.Future[Outcome]]
    ado_votes: AdoVotes | None
    ado_poll_s: float
    timer: asyncio.TimerHandle | None = None


_waiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, GateWaiter]] = weakref.WeakKeyDictionary()


class GateWaiter:
    def __init__(self, db_url: str, recheck_s: float | None = None) -> None:
        self.db_url = db_url
        self.recheck_s = recheck_s or float(os.environ.get(RECHECK_ENV) or DEFAULT_RECHECK_S)
        self._watches: dict[GateKey, _Watch] = {}
        self._due: set[GateKey] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listener_pid: int | None = None
        """The LISTEN connection's backend pid, while connected (tests cut it to simulate a lost connection)."""

    @classmethod
    def current(cls, db_url: str) -> GateWaiter:
        """The running loop's waiter for `db_url`, created on first use."""
        per_url = _waiters.setdefault(asyncio.get_running_loop(), {})
        if db_url not in per_url:
            per_url[db_url] = cls(db_url)
        return per_url[db_url]

    @property
    def waiting(self) -> int:
        return len(self._watches)

    async def wait(self, key: GateKey, timeout_s: float, *, ado_votes: AdoVotes | None = None,
                   ado_poll_s: float = 2.0) -> Outcome:
        """Park until the gate is decided (or missing); `timeout` once `timeout_s` passed with it pending."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = _Watch(loop.time() + timeout_s, [], ado_votes, ado_poll_s)
            watch.timer = loop.call_at(watch.deadline, self._mark_due, [key])
        watch.futures.append(future)
        self._mark_due([key])
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._check()),
                           asyncio.create_task(self._read_votes())]
            for task in self._tasks:
                task.add_done_callback(self._crashed)
        try:
            return await future
        finally:
            await self._leave(key, future)

    async def _leave(self, key: GateKey, future: asyncio.Future[Outcome]) -> None:
        watch = self._watches.get(key)
        if watch is not None:
            watch.futures.remove(future)
            if not watch.futures:
                del self._watches[key]
                if watch.timer is not None:
                    watch.timer.cancel()
        if not self._watches and self._tasks:
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _crashed(self, task: asyncio.Task[None]) -> None:
        """A waiter task must never end on its own; if one does, its gates report it rather than hang."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("the gate waiter failed: %r", exc)
        for key in list(self._watches):
            self._resolve(key, Outcome("error", message=f"gate waiter failed: {type(exc).__name__}: {exc}"))

    def _mark_due(self, keys: Iterable[GateKey]) -> None:
        self._due.update(keys)
        self._wake.set()

    def _resolve(self, key: GateKey, outcome: Outcome) -> None:
        watch = self._watches.get(key)
        for future in watch.futures if watch else []:
            if not future.done():
                future.set_result(outcome)

    async def _listen(self) -> None:
        backoff = Backoff("the gate waiter's LISTEN connection")
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.db_url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {GATE_CHANNEL}")
                    self.listener_pid = conn.info.backend_pid
                    backoff = Backoff("the gate waiter's LISTEN connection")
                    self._mark_due(self._watches)  # whatever was decided while nobody listened
                    async for note in conn.notifies():
                        self._on_notify(note.payload)
            except (psycopg.Error, OSError) as exc:
                self.listener_pid = None
                await asyncio.sleep(backoff.next_delay(exc))

    def _on_notify(self, payload: str) -> None:
        try:
            body: dict[str, Any] = json.loads(payload)
            key = (str(body["ticket_key"]), str(body["run_id"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed %s payload %r", GATE_CHANNEL, payload)
            return
        if key in self._watches:
            self._mark_due([key])

    async def _check(self) -> None:
        loop = asyncio.get_running_loop()
        async with new_async_pool("ticketpilot-gate-waiter", self.db_url, max_size=1) as pool:
            next_recheck = loop.time() + self.recheck_s
            while True:
                try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that meets a wake-up
                    async with asyncio.timeout_at(next_recheck):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                if loop.time() >= next_recheck:
                    self._due.update(self._watches)
                    next_recheck = loop.time() + self.recheck_s
                due, self._due = self._due & self._watches.keys(), set()
                if not due:
                    continue
                try:
                    async with async_connection(pool) as conn:
                        found = await _read(conn, due)
                except psycopg.Error as exc:
                    log.warning("gate check failed, retrying: %s", exc)
                    self._due |= due
                    await asyncio.sleep(1.0)
                    self._wake.set()
                    continue
                now = loop.time()
                for key in due:
                    outcome = found.get(key)
                    if outcome is not None:
                        self._resolve(key, outcome)
                    elif now >= self._watches[key].deadline:
                        self._resolve(key, Outcome("timeout"))

    async def _read_votes(self) -> None:
        """ado tenants' gates: one round over all their PRs per interval, grouped by connection."""
        clients: dict[str, AdoClient] = {}
        try:
            while True:
                ado = {key: w for key, w in self._watches.items() if w.ado_votes is not None}
                if ado:
                    broken = await sync_to_async(pull_votes_by_connection)(
                        {key[0]: w.ado_votes for key, w in ado.items() if w.ado_votes is not None}, clients)
                    for key, watch in ado.items():
                        if watch.ado_votes is not None and (why := broken.get(watch.ado_votes["azure_devops_conn_id"])):
                            self._resolve(key, Outcome("error", message=why))
                await asyncio.sleep(min((w.ado_poll_s for w in ado.values()), default=ADO_IDLE_S))
        finally:
            for client in clients.values():
                client.close()


async def _read(conn: psycopg.AsyncConnection[Any], keys: set[GateKey]) -> dict[GateKey, Outcome]:
    """The outcome of every decided or missing gate among `keys`, in two queries however many there are."""
    tickets, runs = [k[0] for k in keys], [k[1] for k in keys]
    pairs = "(ticket_key, run_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
    cur = await conn.execute(f"SELECT ticket_key, run_id, status FROM ticketpilot.gate_requests WHERE {pairs}",
                             (tickets, runs))
    status = {(r["ticket_key"], r["run_id"]): r["status"] for r in await cur.fetchall()}
    found = {key: Outcome("missing") for key in keys if key not in status}
    decided = [key for key, s in status.items() if s != "pending"]
    if decided:
        cur = await conn.execute(
            "SELECT ticket_key, run_id, approver, decision, comment, source FROM ticketpilot.gate_decisions "
            f"WHERE {pairs} ORDER BY id", ([k[0] for k in decided], [k[1] for k in decided]))
        made: dict[GateKey, list[dict[str, str]]] = {key: [] for key in decided}
        for row in await cur.fetchall():
            made[(row["ticket_key"], row["run_id"])].append(
                {k: str(row[k]) for k in ("approver", "decision", "comment", "source")})
        found |= {key: Outcome(status[key], made[key]) for key in decided}
    return found
