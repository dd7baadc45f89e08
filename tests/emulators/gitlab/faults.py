"""Fault injection for the GitLab emulator, on the ADO emulator's fault book (same `Fault` model, armed per
path through `POST /_emulator/faults`), answered the way GitLab answers: a Rack::Attack 429 ("Retry later",
`Retry-After` and `RateLimit-*` headers), a 503 from the load balancer, slow answers that report a falling
`RateLimit-Remaining`, and connections dropped before or after the work was done."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from typing import Any

from tests.emulators.ado.faults import ConnectionDropped, Fault, FaultBook

Scope = dict[str, Any]
LIMIT = 2000  # requests a minute, GitLab.com's authenticated API limit


class FaultMiddleware:
    """Pure ASGI, so it can cut a connection and add headers without buffering the app's answer."""

    def __init__(self, app: Any, book: FaultBook) -> None:
        self.app = app
        self.book = book

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        fault = None
        if scope["type"] == "http" and not scope["path"].startswith("/_emulator"):
            fault = self.book.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.status == 429:
            await _answer(send, 429, b"Retry later\n", "text/plain",
                          {"retry-after": _seconds(fault.retry_after or 1), **_rate_headers(0, fault.retry_after or 1)})
        elif fault.status == 503:
            extra = {"retry-after": _seconds(fault.retry_after)} if fault.retry_after is not None else {}
            await _answer(send, 503, b'{"message":"503 Service Unavailable"}', "application/json", extra)
        elif fault.status == "drop":
            await _drop(send)
        elif fault.status == "drop_after":
            await self.app(scope, receive, _discard)
            await _drop(send)
        else:
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, _with_headers(send, fault))


def _rate_headers(remaining: int, reset_in: float) -> dict[str, str]:
    reset = time.time() + reset_in
    return {"ratelimit-limit": str(LIMIT), "ratelimit-observed": str(LIMIT - remaining),
            "ratelimit-remaining": str(remaining), "ratelimit-reset": str(int(reset) + (reset % 1 > 0)),
            "ratelimit-resettime": formatdate(reset, usegmt=True)}


async def _answer(send: Any, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
    raise ConnectionDropped("connection dropped by fault injection")


async def _discard(message: dict[str, Any]) -> None:
    """The app's answer goes nowhere: the work is done but the client never hears of it."""


def _with_headers(send: Any, fault: Fault) -> Any:
    """A slow answer: `retry_after` as Retry-After, `rate_limit_remaining` with a window reset `delay` from now."""

    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            extra = {}
            if fault.retry_after is not None:
                extra["retry-after"] = _seconds(fault.retry_after)
            if fault.rate_limit_remaining is not None:
                extra |= _rate_headers(fault.rate_limit_remaining, max(fault.delay, 1.0))
            headers = [*message["headers"], *((k.encode(), v.encode()) for k, v in extra.items())]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _seconds(value: float | None) -> str:
    value = value or 0
    return str(int(value)) if float(value).is_integer() else str(value)
