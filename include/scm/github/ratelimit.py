"""GitHub's rate-limit signals, translated into the ones the shared retry loop (include/scm/http_retry.py)
already honours, so one policy governs both services. GitHub answers an exhausted primary limit with 403 or
429 and `x-ratelimit-remaining: 0` plus `x-ratelimit-reset` (epoch seconds), a secondary limit with 403 or
429 and usually `retry-after`, and says: without either header, wait at least a minute. The loop retries
429 and reads `Retry-After`, so a throttling answer becomes a 429 carrying the wait GitHub asks for; a 403
that is about permissions passes through untouched. Successful answers get `X-RateLimit-Delay`, the pause
that spreads the remaining budget over the time to the reset, which the loop's pacer applies once the
budget runs low."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

SECONDARY_DEFAULT_WAIT = 60.0  # "wait for at least one minute before retrying" when GitHub names no time


class RateLimitTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, clock: Callable[[], float] = time.time) -> None:
        self._inner = inner
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if response.status_code in (403, 429):
            return self._throttled(response) or response
        self._add_pacing(response)
        return response

    def close(self) -> None:
        self._inner.close()

    def _throttled(self, response: httpx.Response) -> httpx.Response | None:
        """The answer as a 429 with the wait GitHub asks for, or None when it is not about rate limits."""
        response.read()
        wait = _header(response, "retry-after")
        remaining, reset = _header(response, "x-ratelimit-remaining"), _header(response, "x-ratelimit-reset")
        if wait is None and remaining == 0 and reset is not None:
            wait = max(0.0, reset - self._clock())
        if wait is None and "rate limit" in response.text.lower():
            wait = SECONDARY_DEFAULT_WAIT
        if wait is None:
            return None
        headers = httpx.Headers(response.headers)
        for name in ("content-encoding", "content-length", "transfer-encoding"):
            headers.pop(name, None)
        headers["Retry-After"] = f"{wait:.3f}"
        return httpx.Response(429, headers=headers, content=response.content, extensions=response.extensions)

    def _add_pacing(self, response: httpx.Response) -> None:
        remaining, reset = _header(response, "x-ratelimit-remaining"), _header(response, "x-ratelimit-reset")
        if remaining is not None and reset is not None:
            spread = max(0.0, reset - self._clock()) / (remaining + 1)
            response.headers["X-RateLimit-Delay"] = f"{spread:.3f}"


def _header(response: httpx.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None
