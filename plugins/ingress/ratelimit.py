"""Per-tenant token buckets for the hook route, in process.

A burst from one tenant's ADO (a bulk edit of hundreds of work items fires hundreds of hooks) must not
starve the database pool that every tenant shares. The buckets live in the API-server process: with
several API-server replicas each enforces its own share, which is enough to protect the pool each
replica owns, and costs nothing on the hot path (no shared store, no round trip).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_RATE_PER_S = 50.0
DEFAULT_BURST = 200


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by tenant: `rate` tokens a second refill up to `burst`; a delivery takes one."""

    def __init__(self, rate_per_s: float = DEFAULT_RATE_PER_S, burst: int = DEFAULT_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate_per_s}, burst={burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, rate_per_s: float | None = None, burst: int | None = None) -> float:
        """Take a token for `key`: 0.0 when granted, else the seconds until one is available.

        `rate_per_s`/`burst` override the defaults for this key (a tenant's own limits); a change applies
        from the next call, the tokens already saved are capped at the new burst.
        """
        rate = rate_per_s or self.rate_per_s
        size = burst or self.burst
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=float(size), stamp=now)
            bucket.tokens = min(float(size), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds, at least 1 (the header has no fractions; 0 would invite a hot loop)."""
    return str(max(1, math.ceil(wait_s)))
