from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from include.store import pool
from include.store.pool import connection, new_pool

UNREACHABLE = "postgresql://nobody@/nowhere?host=/nonexistent"


def test_pool_max_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pool.POOL_MAX_ENV, "7")
    assert pool.pool_max() == 7
    monkeypatch.setenv(pool.POOL_MAX_ENV, "0")
    assert pool.pool_max() == 1
    monkeypatch.delenv(pool.POOL_MAX_ENV)
    assert pool.pool_max() == pool.DEFAULT_POOL_MAX


def test_a_caller_waits_for_a_busy_pool_instead_of_failing(db_url: str) -> None:
    with new_pool("test-busy", db_url, max_size=1, timeout=0.1) as busy:
        held = busy.getconn()
        threading.Timer(0.6, busy.putconn, args=(held,)).start()
        started = time.monotonic()
        with connection(busy) as conn:
            assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
        assert time.monotonic() - started >= 0.5, "it waited for the held connection, retrying with backoff"


def test_the_pool_never_holds_more_than_its_size(db_url: str, db: psycopg.Connection) -> None:
    with new_pool("test-bounded", db_url, max_size=2, timeout=0.2) as bounded:
        def work() -> None:
            with connection(bounded) as conn:
                conn.execute("SELECT pg_sleep(0.2)")

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert bounded.get_stats()["pool_max"] == 2
        assert all(not t.is_alive() for t in threads), "all eight finished through two connections"


def test_give_up_after_bounds_the_wait_on_an_unreachable_server() -> None:
    with new_pool("test-unreachable", UNREACHABLE, max_size=1, timeout=0.2) as dead:
        with pytest.raises((PoolTimeout, psycopg.OperationalError)):
            with connection(dead, give_up_after=0.5):
                pass


def test_shared_pool_is_one_per_process_and_url(db_url: str) -> None:
    try:
        assert pool.shared_pool(db_url) is pool.shared_pool(db_url)
        with connection() as conn:
            assert conn.execute("SELECT current_database() AS db").fetchone()["db"] in db_url
    finally:
        pool.close_shared()
