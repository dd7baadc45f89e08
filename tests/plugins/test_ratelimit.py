from __future__ import annotations

import pytest

from plugins.ingress.ratelimit import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_burst_then_refill_at_the_rate(clock: Clock) -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    assert [limiter.acquire("acme") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("acme") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("acme") == 0.0
    clock.now += 60  # refill stops at the burst size
    assert [limiter.acquire("acme") for _ in range(4)][-1] == pytest.approx(0.5)


def test_tenants_have_their_own_buckets_and_limits(clock: Clock) -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1, clock=clock)
    assert limiter.acquire("acme") == 0.0 and limiter.acquire("acme") > 0
    assert limiter.acquire("globex") == 0.0
    assert [limiter.acquire("initech", 10.0, 5) for _ in range(5)] == [0.0] * 5
    assert limiter.acquire("initech", 10.0, 5) == pytest.approx(0.1)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (30.0, "30")])
def test_retry_after_is_whole_seconds_at_least_one(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        RateLimiter(rate_per_s=0)
