"""Fault injection for the ADO emulator, on the shared fault book (tests/emulators/common/faults.py), answered
the way Azure DevOps answers: 429 with Retry-After and its `X-RateLimit-*` headers, 503, and delayed 200s
that carry rate-limit headers."""

from __future__ import annotations

import json
import time

from tests.emulators.ado.errors import error_body
from tests.emulators.common.faults import Answer, Fault, seconds


def refuse(fault: Fault) -> Answer:
    if fault.status == 429:
        body = error_body(
            "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource "
            "'Core' in namespace 'User'.", "RequestBlockedException", 400733,
        )
        headers = {"retry-after": seconds(fault.retry_after or 1), "x-ratelimit-resource": "Core",
                   "x-ratelimit-remaining": "0", "x-ratelimit-limit": "200"}
    else:
        body = error_body("The service is unavailable.", "ServiceUnavailableException")
        headers = {"retry-after": seconds(fault.retry_after)} if fault.retry_after is not None else {}
    return Answer(int(fault.status), json.dumps(body).encode(), headers=headers)


def slow_headers(fault: Fault) -> dict[str, str]:
    extra = {"x-ratelimit-resource": "Core", "x-ratelimit-limit": "200",
             "x-ratelimit-reset": str(int(time.time()) + 300), "x-ratelimit-delay": str(fault.delay)}
    if fault.retry_after is not None:
        extra["retry-after"] = seconds(fault.retry_after)
    if fault.rate_limit_remaining is not None:
        extra["x-ratelimit-remaining"] = str(fault.rate_limit_remaining)
    return extra
