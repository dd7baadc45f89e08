"""One event loop on a daemon thread that runs the providers' async SDK calls for synchronous callers.

pydantic-ai's models and the official SDKs are async; the router is synchronous on purpose (agents are plain
processes, the HTTP service calls it from worker threads). A fresh loop per call would strand the SDK
clients' connection pools on closed loops, so every provider of a process shares this one loop, and its
clients keep their connections between calls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _shared_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="model-transport", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the shared loop and wait for its result (or its exception) on the calling thread."""
    loop = _shared_loop()
    if _running_on(loop):
        coro.close()
        raise RuntimeError("run() was called from the model transport's own loop; await the coroutine instead")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
