"""Fault injection shared by the forge emulators: what a hosted service does under load or in an outage,
armed per path by tests through `POST /_emulator/faults` and consumed first-match-first. The book and the ASGI
middleware are the same for every forge; how a refusal or a slow answer looks (status, body, rate-limit
headers) is the forge's, passed in as two small functions."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

Scope = dict[str, Any]


class Fault(BaseModel):
    """The union of fault kinds; each emulator narrows `status` to those its service answers with."""

    path_regex: str
    status: Literal[403, 429, 503, "drop", "drop_after", "slow"]
    limit: Literal["primary", "secondary"] = "secondary"  # GitHub 403/429: which rate limit answers
    method: str | None = None
    count: int = 1
    retry_after: float | None = None  # seconds; on refusals and, when set, on slow answers
    delay: float = 0.0  # slow: seconds before the real answer
    rate_limit_remaining: int | None = None  # slow: the remaining-requests header on the real answer


class ThrottleFault(Fault):
    """The kinds of a service that throttles with 429 alone (Azure DevOps, GitLab)."""

    status: Literal[429, 503, "drop", "drop_after", "slow"]


@dataclass(frozen=True)
class Answer:
    """A refusal as the forge sends it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


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
    """Pure ASGI, so it can cut a connection and set headers without buffering the app's answer. `refuse`
    renders an armed HTTP status; `slow_headers` gives the headers a slow answer carries (replacing the app's
    own of the same name)."""

    def __init__(
        self,
        app: Any,
        book: FaultBook,
        *,
        refuse: Callable[[Fault], Answer],
        slow_headers: Callable[[Fault], dict[str, str]],
    ) -> None:
        self.app = app
        self.book = book
        self.refuse = refuse
        self.slow_headers = slow_headers

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        fault = None
        if scope["type"] == "http" and not scope["path"].startswith("/_emulator"):
            fault = self.book.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
        elif isinstance(fault.status, int):
            await _answer(send, self.refuse(fault))
        elif fault.status == "drop":
            await _drop(send)
        elif fault.status == "drop_after":
            await self.app(scope, receive, _discard)
            await _drop(send)
        else:
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, _with_headers(send, self.slow_headers(fault)))


def seconds(value: float | None) -> str:
    """A header's seconds as services write them: whole numbers without a fraction."""
    value = value or 0
    return str(int(value)) if float(value).is_integer() else str(value)


async def _answer(send: Any, answer: Answer) -> None:
    raw = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
    raw += [(b"content-type", answer.content_type.encode()), (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    await send({"type": "http.response.body", "body": answer.body})


async def _drop(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
    raise ConnectionDropped("connection dropped by fault injection")


async def _discard(message: dict[str, Any]) -> None:
    """The app's answer goes nowhere: the work is done but the client never hears of it."""


def _with_headers(send: Any, extra: dict[str, str]) -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and extra:
            kept = [(k, v) for k, v in message["headers"] if k.decode().lower() not in extra]
            message = {**message, "headers": [*kept, *((k.encode(), v.encode()) for k, v in extra.items())]}
        await send(message)

    return wrapped
