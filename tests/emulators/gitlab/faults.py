"""Fault injection for the GitLab emulator, on the shared fault book (tests/emulators/common/faults.py) with
GitLab's fault kinds, answered the way GitLab answers: a Rack::Attack 429 ("Retry later",
`Retry-After` and `RateLimit-*` headers), a 503 from the load balancer, and slow answers that report a falling
`RateLimit-Remaining`."""

from __future__ import annotations

import time
from email.utils import formatdate

from tests.emulators.common.faults import Answer, Fault, seconds

LIMIT = 2000  # requests a minute, GitLab.com's authenticated API limit


def refuse(fault: Fault) -> Answer:
    if fault.status == 429:
        wait = fault.retry_after or 1
        return Answer(429, b"Retry later\n", "text/plain", {"retry-after": seconds(wait), **_rate_headers(0, wait)})
    extra = {"retry-after": seconds(fault.retry_after)} if fault.retry_after is not None else {}
    return Answer(503, b'{"message":"503 Service Unavailable"}', "application/json", extra)


def slow_headers(fault: Fault) -> dict[str, str]:
    """`retry_after` as Retry-After, `rate_limit_remaining` with a window reset `delay` from now."""
    extra = {}
    if fault.retry_after is not None:
        extra["retry-after"] = seconds(fault.retry_after)
    if fault.rate_limit_remaining is not None:
        extra |= _rate_headers(fault.rate_limit_remaining, max(fault.delay, 1.0))
    return extra


def _rate_headers(remaining: int, reset_in: float) -> dict[str, str]:
    reset = time.time() + reset_in
    return {"ratelimit-limit": str(LIMIT), "ratelimit-observed": str(LIMIT - remaining),
            "ratelimit-remaining": str(remaining), "ratelimit-reset": str(int(reset) + (reset % 1 > 0)),
            "ratelimit-resettime": formatdate(reset, usegmt=True)}
