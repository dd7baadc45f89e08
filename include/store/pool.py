"""Bounded connection pools to the platform database, and a patient way to take a connection from one.

A component holds at most `TICKETPILOT_DB_POOL_MAX` connections (default 4) however much work it has, so the
embedded server's `max_connections` can be budgeted per component (include/launcher/embedded_pg.py). When no
connection is free, or the server refuses one ("too many clients", a restart), the caller waits and retries
with capped, jittered backoff instead of crashing: one starved component slows down, the platform stays up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from include.settings import get_settings

log = logging.getLogger("ticketpilot.store.pool")

POOL_MAX_ENV = "TICKETPILOT_DB_POOL_MAX"
DEFAULT_POOL_MAX = 4
POOL_WAIT_S = 5.0
"""How long one attempt waits for a free connection before backing off (and logging that it waits)."""
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 10.0

_RETRIED = (PoolTimeout, psycopg.OperationalError)


def pool_max() -> int:
    """Connections one component may hold: `TICKETPILOT_DB_POOL_MAX`, at least 1."""
    return max(1, int(os.environ.get(POOL_MAX_ENV) or DEFAULT_POOL_MAX))


def new_pool(name: str, db_url: str | None = None, *, max_size: int | None = None,
             timeout: float = POOL_WAIT_S) -> ConnectionPool:
    """An open pool of autocommit, dict-row connections; it connects in the background and keeps retrying a
    dead server rather than failing its first caller for good."""
    return ConnectionPool(
        db_url or get_settings().require_db(),
        kwargs={"autocommit": True, "row_factory": dict_row},
        min_size=1, max_size=max_size or pool_max(), timeout=timeout,
        check=ConnectionPool.check_connection, name=name, open=True,
    )


def new_async_pool(name: str, db_url: str | None = None, *, max_size: int | None = None,
                   timeout: float = POOL_WAIT_S) -> AsyncConnectionPool:
    """The asyncio twin of `new_pool`, not yet opened: open it (`async with`) inside the loop that uses it."""
    return AsyncConnectionPool(
        db_url or get_settings().require_db(),
        kwargs={"autocommit": True, "row_factory": dict_row},
        min_size=1, max_size=max_size or pool_max(), timeout=timeout,
        check=AsyncConnectionPool.check_connection, name=name, open=False,
    )


_shared: dict[tuple[int, str], ConnectionPool] = {}
_shared_lock = threading.Lock()


def shared_pool(db_url: str | None = None) -> ConnectionPool:
    """This process's pool for `db_url` (the settings' database by default). Keyed by pid too, because a
    forked child must not use its parent's sockets."""
    url = db_url or get_settings().require_db()
    key = (os.getpid(), url)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = new_pool(f"ticketpilot-{os.getpid()}", url)
        return _shared[key]


def close_shared() -> None:
    """Close this process's shared pools (tests, orderly shutdown)."""
    with _shared_lock:
        for key in [k for k in _shared if k[0] == os.getpid()]:
            _shared.pop(key).close()


class Backoff:
    """Doubling delays with jitter, capped; `give_up_after` None waits for as long as it takes."""

    def __init__(self, what: str, give_up_after: float | None = None) -> None:
        self.what = what
        self.deadline = None if give_up_after is None else time.monotonic() + give_up_after
        self.delay = BACKOFF_FIRST_S
        self.attempts = 0

    def next_delay(self, exc: Exception) -> float:
        """The seconds to wait before the next try; re-raises `exc` once the deadline has passed."""
        self.attempts += 1
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise exc
        delay, self.delay = self.delay * random.uniform(0.5, 1.0), min(self.delay * 2, BACKOFF_MAX_S)
        log.warning("no database connection for %s (attempt %d, %s: %s); retrying in %.1fs",
                    self.what, self.attempts, type(exc).__name__, exc, delay)
        return delay


@contextmanager
def connection(pool: ConnectionPool | None = None, *, give_up_after: float | None = None
               ) -> Iterator[psycopg.Connection]:
    """A connection from `pool` (the shared one by default), waited for with backoff; committed, or rolled
    back on error, and returned to the pool on exit. Only getting the connection is retried, never the body."""
    pool = pool or shared_pool()
    backoff = Backoff(pool.name, give_up_after)
    while True:
        try:
            conn = pool.getconn()
            break
        except _RETRIED as exc:
            time.sleep(backoff.next_delay(exc))
    try:
        with conn:
            yield conn
    finally:
        pool.putconn(conn)


@asynccontextmanager
async def async_connection(pool: AsyncConnectionPool, *, give_up_after: float | None = None
                           ) -> AsyncIterator[psycopg.AsyncConnection]:
    """`connection` for an asyncio pool."""
    backoff = Backoff(pool.name, give_up_after)
    while True:
        try:
            conn = await pool.getconn()
            break
        except _RETRIED as exc:
            await asyncio.sleep(backoff.next_delay(exc))
    try:
        async with conn:
            yield conn
    finally:
        await pool.putconn(conn)
