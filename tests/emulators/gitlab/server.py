"""Serving the GitLab emulator to tests: uvicorn on 127.0.0.1, a free port, a background thread. One server
per session; `reset()` swaps in fresh state (new projects, no faults, one maintainer token) so tests stay
independent."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.emulators.gitlab.app import create_app
from tests.emulators.gitlab.state import EmulatorState

TOKEN = "glpat-emulator-maintainer"


class _SwappableApp:
    """The ASGI app of the current state, so a reset needs no new server."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class GitLabEmulator:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tp-gitlab-emulator-")
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
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    def reset(self) -> EmulatorState:
        root = Path(tempfile.mkdtemp(dir=self._tmp.name))
        self.state = EmulatorState(root)
        self.state.base_url = self.url
        self.state.grant(TOKEN, "maintainer")
        self._app.app = create_app(self.state)
        return self.state

    def start(self) -> GitLabEmulator:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the GitLab emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._tmp.cleanup()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def seed_project(self, name: str, files: dict[str, str]) -> str:
        """Create `<namespace>/<name>` whose `main` holds `files`; returns main's commit id."""
        return self.admin("POST", "projects", {"name": name, "files": files})["head"]

    def grant(self, token: str, role: str = "maintainer") -> None:
        self.admin("POST", "tokens", {"token": token, "role": role})

    def arm(self, *faults: dict[str, Any]) -> None:
        self.admin("POST", "faults", list(faults))
