"""What the spawner reports as metrics at each export: deliveries waiting for dispatch and the longest wait of a
pending gate, read in one query from the spawner's bounded pool and kept for a second (both gauges read it)."""

from __future__ import annotations

import threading
import time

from include.store.pool import connection, shared_pool

_cache: tuple[float, tuple[int, float]] | None = None
_lock = threading.Lock()


def platform_figures(db_url: str | None = None, max_age_s: float = 1.0) -> tuple[int, float]:
    """(outbox depth, oldest pending gate's wait in seconds)."""
    global _cache
    with _lock:
        if _cache is not None and time.monotonic() - _cache[0] < max_age_s:
            return _cache[1]
        with connection(shared_pool(db_url)) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM ticketpilot.outbox WHERE processed_at IS NULL) AS depth, "
                "(SELECT coalesce(extract(epoch FROM now() - min(requested_at)), 0) FROM ticketpilot.gate_requests "
                "WHERE status = 'pending') AS wait").fetchone()
        _cache = (time.monotonic(), (int(row["depth"]), float(row["wait"])))
        return _cache[1]
