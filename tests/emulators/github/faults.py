"""Fault injection for the GitHub emulator: what github.com does under load or in an outage, armed per path by
tests through `POST /_emulator/faults`: a primary rate limit (403/429 with `x-ratelimit-remaining: 0` and
`x-ratelimit-reset`), a secondary one (403/429 with `retry-after`, or none: "wait a minute"), 503, slow
answers carrying rate-limit headers, and connections dropped before or after the work was done."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel

from tests.emulators.ado.faults import ConnectionDropped  # shares the ADO emulator's quiet uvicorn log filter
from tests.emulators.github.errors import error_body

RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


class Fault(BaseModel):
    path_regex: str
    status: Literal[403, 429, 503, "drop", "drop_after", "slow"]
    limit: Literal["primary", "secondary"] = "secondary"  # 403/429: which rate limit answers
    method: str | None = None
    count: int = 1
    retry_after: float | None = None  # secondary: retry-after; primary: seconds until x-ratelimit-reset
    delay: float = 0.0  # slow: seconds before the real answer
    rate_limit_remaining: int | None = None  # slow: x-ratelimit-remaining on the real answer


class FaultBook:
    """Armed faults, consumed first-match-first; `fired` counts what went off, for assertions."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: dict[str, int] = {}

    def arm(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(f.model_copy() for f in faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.count for f in self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if (fault.method is None or fault.method == method) and re.search(fault.path_regex, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    self.fired[str(fault.status)] = self.fired.get(str(fault.status), 0) + 1
                    return fault
        return None


class FaultMiddleware:
    """Pure ASGI, so it can cut a connection and add headers without buffering the app's answer."""

    def __init__(self, app: Any, book: FaultBook) -> None:
        self.app = app
        self.book = book

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        fault = None
        if scope["type"] == "http" and not scope["path"].startswith("/_emulator"):
            fault = self.book.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.status in (403, 429, 503):
            await _refuse(send, fault)
        elif fault.status == "drop":
            await _drop(send)
        elif fault.status == "drop_after":
            await self.app(scope, receive, _discard)
            await _drop(send)
        else:
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, _with_rate_headers(send, fault))


async def _refuse(send: Any, fault: Fault) -> None:
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
            headers["retry-after"] = _seconds(fault.retry_after)
    payload = json.dumps(body).encode()
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def _drop(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
    raise ConnectionDropped("connection dropped by fault injection")


async def _discard(message: dict[str, Any]) -> None:
    """The app's answer goes nowhere: the work is done but the client never hears of it."""


def _with_rate_headers(send: Any, fault: Fault) -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and fault.rate_limit_remaining is not None:
            extra = {"x-ratelimit-remaining": str(fault.rate_limit_remaining),
                     "x-ratelimit-reset": str(int(time.time()) + 3600)}
            kept = [(k, v) for k, v in message["headers"] if k.decode().lower() not in extra]
            message = {**message, "headers": [*kept, *((k.encode(), v.encode()) for k, v in extra.items())]}
        await send(message)

    return wrapped


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
