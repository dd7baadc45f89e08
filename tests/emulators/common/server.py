"""Serving an emulator to tests: uvicorn on 127.0.0.1, a free port, a background thread. One server per
session; `reset()` swaps in fresh state behind the same socket, so tests stay independent without paying for
a new server each. Subclasses say how state and app are made; the admin calls (`/_emulator/...`) that every
emulator answers live here."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import httpx
import uvicorn


class State(Protocol):
    base_url: str


S = TypeVar("S", bound=State)


class _SwappableApp:
    """The ASGI app of the current state, so a reset needs no new server."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class ThreadedServer(ABC, Generic[S]):
    """An emulator on its own thread; `state` is the current state, `url` the server's root."""

    label: ClassVar[str]  # "ADO", "GitHub", ...: names the emulator in errors and its temporary folder

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"tp-{self.label.lower()}-emulator-")
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._app = _SwappableApp()
        self.state = self.reset()
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @abstractmethod
    def new_state(self, root: Path) -> S:
        """Fresh state kept under `root`."""

    @abstractmethod
    def create_app(self, state: S) -> Any:
        """The ASGI app serving `state`."""

    def retire(self, state: S) -> None:
        """Release what `state` holds beyond its files (threads, sockets) before it is dropped."""

    def reset(self) -> S:
        if (previous := getattr(self, "state", None)) is not None:
            self.retire(previous)
        state = self.new_state(Path(tempfile.mkdtemp(dir=self._tmp.name)))
        state.base_url = self.url
        self.state = state
        self._app.app = self.create_app(state)
        return state

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.label} emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.retire(self.state)
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._tmp.cleanup()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def arm(self, *faults: dict[str, Any]) -> None:
        self.admin("POST", "faults", list(faults))
