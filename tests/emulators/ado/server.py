"""Serving the ADO emulator to tests: uvicorn on 127.0.0.1, a free port, a background thread. One server
per session; `reset()` swaps in fresh state (new repositories, no faults) so tests stay independent."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.emulators.ado.app import create_app
from tests.emulators.ado.state import EmulatorState


class _SwappableApp:
    """The ASGI app of the current state, so a reset needs no new server."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class EmulatorServer:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tp-ado-emulator-")
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._app = _SwappableApp()
        self.state = self.reset()
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @property
    def org_url(self) -> str:
        return f"{self.url}/{self.state.org}"

    def reset(self) -> EmulatorState:
        if getattr(self, "state", None) is not None:
            self.state.service_hooks.close()
        root = Path(tempfile.mkdtemp(dir=self._tmp.name))
        self.state = EmulatorState(root)
        self.state.base_url = self.url
        self._app.app = create_app(self.state)
        return self.state

    def start(self) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the ADO emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.state.service_hooks.close()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._tmp.cleanup()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def seed_repo(self, name: str, files: dict[str, str]) -> str:
        """Create a repository whose `main` holds `files`; returns main's commit id."""
        return self.admin("POST", "repos", {"name": name, "files": files})["head"]

    def seed_work_item(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self.admin("POST", "workitems", {"fields": fields})

    def subscribe(self, url: str, event_types: list[str], **inputs: Any) -> str:
        """Register a Web Hooks subscription (see service_hooks.Subscription for `inputs`); returns its id."""
        return self.admin("POST", "subscriptions", {"url": url, "event_types": event_types, **inputs})["id"]

    def deliveries(self) -> list[dict[str, Any]]:
        return self.admin("GET", "deliveries")

    def arm(self, *faults: dict[str, Any]) -> None:
        self.admin("POST", "faults", list(faults))

    def define_pipeline(self, pipeline_id: int, repository: str, result: str = "succeeded",
                        seconds: float = 1.0) -> None:
        """A pipeline building `repository` whose runs finish on their own with `result` after `seconds`."""
        self.admin("PUT", f"pipelines/{pipeline_id}", {"repository": repository, "result": result,
                                                        "seconds": seconds})
