"""Fault injection for the GitHub emulator, on the shared fault book (tests/emulators/common/faults.py),
answered the way github.com answers: a primary rate limit (403/429 with `x-ratelimit-remaining: 0` and
`x-ratelimit-reset`), a secondary one (403/429 with `retry-after`, or none: "wait a minute"), 503, and slow
answers carrying rate-limit headers."""

from __future__ import annotations

import json
import time

from tests.emulators.common.faults import Answer, Fault, seconds
from tests.emulators.github.errors import error_body

RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


def refuse(fault: Fault) -> Answer:
    status = int(fault.status)
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-resource": "core", "x-github-request-id": "EMU:1"}
    if status == 503:
        body = error_body(503, "Service Unavailable")
    elif fault.limit == "primary":
        reset = int(time.time() + (fault.retry_after if fault.retry_after is not None else 1))
        body = error_body(status, "API rate limit exceeded for user ID 41898282. If you reach out to GitHub Support "
                                  "for help, please include the request ID EMU:1.", documentation_url=RATE_DOCS)
        headers |= {"x-ratelimit-remaining": "0", "x-ratelimit-used": "5000", "x-ratelimit-reset": str(reset)}
    else:
        body = error_body(status, "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                                  "try again. If you reach out to GitHub Support for help, please include the request "
                                  "ID EMU:1.", documentation_url=RATE_DOCS + "#about-secondary-rate-limits")
        if fault.retry_after is not None:
            headers["retry-after"] = seconds(fault.retry_after)
    return Answer(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)


def slow_headers(fault: Fault) -> dict[str, str]:
    if fault.rate_limit_remaining is None:
        return {}
    return {"x-ratelimit-remaining": str(fault.rate_limit_remaining), "x-ratelimit-reset": str(int(time.time()) + 3600)}
