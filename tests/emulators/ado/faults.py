"""Fault injection for the ADO emulator: what the real service does under load or in an outage (429 with
Retry-After, 503, delayed 200s with rate-limit headers, dropped connections before or after the work was
done), armed per path by tests through `POST /_emulator/faults`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel

from tests.emulators.ado.errors import error_body

Scope = dict[str, Any]


class Fault(BaseModel):
    path_regex: str
    status: Literal[429, 503, "drop", "drop_after", "slow"]
    method: str | None = None
    count: int = 1
    retry_after: float | None = None  # seconds; sent on 429 (default 1), 503 and slow answers when set
    delay: float = 0.0  # slow: seconds before the real answer
    rate_limit_remaining: int | None = None  # slow: X-RateLimit-Remaining on the real answer


class ConnectionDropped(RuntimeError):
    """Raised after the status line so uvicorn closes the socket mid-response: the client sees a broken
    connection, not an HTTP error."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


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
    """Pure ASGI, so it can cut a connection and rewrite headers without buffering the app's answer."""

    def __init__(self, app: Any, book: FaultBook) -> None:
        self.app = app
        self.book = book

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        fault = None
        if scope["type"] == "http" and not scope["path"].startswith("/_emulator"):
            fault = self.book.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.status in (429, 503):
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
    if fault.status == 429:
        body = error_body(
            "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource "
            "'Core' in namespace 'User'.", "RequestBlockedException", 400733,
        )
        headers = {"retry-after": _seconds(fault.retry_after or 1), "x-ratelimit-resource": "Core",
                   "x-ratelimit-remaining": "0", "x-ratelimit-limit": "200"}
    else:
        body = error_body("The service is unavailable.", "ServiceUnavailableException")
        headers = {"retry-after": _seconds(fault.retry_after)} if fault.retry_after is not None else {}
    payload = json.dumps(body).encode()
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": fault.status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def _drop(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
    raise ConnectionDropped("connection dropped by fault injection")


async def _discard(message: dict[str, Any]) -> None:
    """The app's answer goes nowhere: the work is done but the client never hears of it."""


def _with_rate_headers(send: Any, fault: Fault) -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            extra = {"x-ratelimit-resource": "Core", "x-ratelimit-limit": "200",
                     "x-ratelimit-reset": str(int(time.time()) + 300), "x-ratelimit-delay": str(fault.delay)}
            if fault.retry_after is not None:
                extra["retry-after"] = _seconds(fault.retry_after)
            if fault.rate_limit_remaining is not None:
                extra["x-ratelimit-remaining"] = str(fault.rate_limit_remaining)
            headers = [*message["headers"], *((k.encode(), v.encode()) for k, v in extra.items())]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _seconds(value: float | None) -> str:
    value = value or 0
    return str(int(value)) if float(value).is_integer() else str(value)
