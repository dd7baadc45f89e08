"""GitLab's rate-limit headers, read into the shared retry loop's Pacer. GitLab (Rack::Attack, HAProxy on
gitlab.com) sends `RateLimit-Remaining` and `RateLimit-Reset` (Unix time the window resets) instead of Azure
DevOps' `X-RateLimit-*`; `Retry-After` is common to both and already honoured by the base class."""

from __future__ import annotations

import time

import httpx

from include.scm.http_retry import Pacer, RetryPolicy


class GitLabPacer(Pacer):
    """Once the budget left in the window falls to `policy.low_remaining`, spread what is left over the time
    until `RateLimit-Reset`, so a busy tenant slows down instead of earning a 429 (and waits out the window
    when nothing is left, which is also how a 429 without `Retry-After` is honoured)."""

    def observe(self, response: httpx.Response, policy: RetryPolicy) -> None:
        super().observe(response, policy)
        remaining = _header(response, "RateLimit-Remaining")
        reset = _header(response, "RateLimit-Reset")
        if remaining is None or reset is None or remaining > policy.low_remaining:
            return
        pause = max(0.0, reset - time.time()) / (remaining + 1)
        if pause:
            with self._lock:  # the base class's own clock, so both kinds of hint move one 'not before'
                self._not_before = max(self._not_before, time.monotonic() + min(pause, policy.max_delay))


def _header(response: httpx.Response, name: str) -> float | None:
    try:
        return max(0.0, float(response.headers[name]))
    except (KeyError, ValueError):
        return None
