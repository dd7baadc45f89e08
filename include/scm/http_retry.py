"""Sending one request to a forge (Azure DevOps, GitHub, GitLab) through throttling and outages: the retry and
pacing loop every forge client shares. Forges answer load with `Retry-After` (ADO also on delayed 200s), then
429; outages answer 502/503/504 or drop connections. We wait as told, otherwise back off exponentially with
full jitter, and give up once the total wait would pass a bound, so a caller (an Airflow task) fails clearly
instead of hanging. A request is replayed after a transport error only when replaying it is safe: reads,
idempotent writes, and POSTs whose caller checks for its own earlier effect.

Each forge's own rate-limit headers are read by its Pacer subclass or transport (ADO's `X-RateLimit-*` here;
GitHub: include/scm/github/ratelimit.py; GitLab: include/scm/gitlab/pacing.py); each client turns
RetryBudgetExceeded into its own error type with its service's name."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import httpx
from pydantic import BaseModel, ConfigDict

from include.scm.base import ScmError

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class RetryBudgetExceeded(ScmError):
    """Throttling or outages outlasted the policy's total wait; the call was not (knowingly) applied. `status` is
    the last status seen (503 when the last failure was a broken connection)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class RetryPolicy(BaseModel):
    """Bounds of the retry loop; tests shrink `base_delay` and `max_total_wait` to keep runs short."""

    model_config = ConfigDict(frozen=True)

    max_total_wait: float = 60.0  # seconds one call may spend waiting, across all its attempts
    base_delay: float = 0.5  # first backoff ceiling; doubles per attempt
    max_delay: float = 30.0  # ceiling of any single backoff
    low_remaining: int = 20  # X-RateLimit-Remaining at or below which we pace ourselves
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def backoff(self, failures: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2^(failures-1))]."""
        return rng() * min(self.max_delay, self.base_delay * 2 ** (failures - 1))


class Pacer:
    """Client-wide 'not before' time, moved by Retry-After on successes and by a falling rate-limit budget
    (`X-RateLimit-Remaining`, `X-RateLimit-Delay`: ADO's names, which GitHub's transport also writes), so the next
    request waits instead of earning a 429."""

    def __init__(self) -> None:
        self._not_before = 0.0
        self._lock = threading.Lock()

    def delay(self) -> float:
        with self._lock:
            return max(0.0, self._not_before - time.monotonic())

    def observe(self, response: httpx.Response, policy: RetryPolicy) -> None:
        pause = retry_after(response) or 0.0
        remaining = _float_header(response, "X-RateLimit-Remaining")
        if remaining is not None and remaining <= policy.low_remaining:
            hinted = _float_header(response, "X-RateLimit-Delay")
            scale = (policy.low_remaining - remaining + 1) / (policy.low_remaining + 1)
            pause = max(pause, hinted if hinted is not None else policy.base_delay * scale)
        if pause:
            with self._lock:
                self._not_before = max(self._not_before, time.monotonic() + min(pause, policy.max_delay))


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (what the forges send; an HTTP date is not used by any of them)."""
    return _float_header(response, "Retry-After")


def _float_header(response: httpx.Response, name: str) -> float | None:
    try:
        value = float(response.headers[name])
    except (KeyError, ValueError):
        return None
    return max(0.0, value)


def send_with_retry(
    client: httpx.Client,
    request: httpx.Request,
    *,
    replay_safe: bool,
    policy: RetryPolicy,
    pacer: Pacer,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    service: str = "the service",
) -> httpx.Response:
    """Send `request` until it gets a non-retryable answer or the wait budget runs out."""
    started = time.monotonic()
    failures = 0
    last, last_status = "no attempt", 503
    while True:
        wait = pacer.delay()
        if wait:
            _wait(wait, started, policy, sleep, failures, last, last_status, service)
        try:
            response = client.send(request)
        except httpx.TransportError as exc:
            # A connect error never reached the server; anything later might have been applied.
            if not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                if not (replay_safe or request.method in IDEMPOTENT_METHODS):
                    raise
            failures += 1
            last, last_status = f"{type(exc).__name__}: {exc}", 503
            _wait(policy.backoff(failures, rng), started, policy, sleep, failures, last, last_status, service)
            continue
        pacer.observe(response, policy)
        if response.status_code not in policy.retry_statuses:
            return response
        failures += 1
        last, last_status = f"HTTP {response.status_code}", response.status_code
        hinted = retry_after(response)
        delay = hinted + rng() * policy.base_delay if hinted is not None else policy.backoff(failures, rng)
        _wait(delay, started, policy, sleep, failures, last, last_status, service)


def _wait(
    delay: float,
    started: float,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    failures: int,
    last: str,
    last_status: int,
    service: str,
) -> None:
    """Sleep `delay`, or raise if that would pass the bound; the error carries the last status seen
    (503 when the last failure was a broken connection)."""
    elapsed = time.monotonic() - started
    if elapsed + delay > policy.max_total_wait:
        raise RetryBudgetExceeded(
            last_status,
            f"gave up after {failures} failed attempt(s) and {elapsed:.1f}s; waiting {delay:.1f}s more would pass "
            f"the {policy.max_total_wait:g}s bound (last: {last}). {service[0].upper()}{service[1:]} is throttling "
            "or unavailable: retry the task later or raise RetryPolicy.max_total_wait.",
        )
    sleep(delay)
