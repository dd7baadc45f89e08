"""Serving the GitHub emulator to tests: uvicorn on 127.0.0.1, a free port, a background thread. One server
per session; `reset()` swaps in fresh state (new repositories, no faults) so tests stay independent. The
server's URL is both the API root (as https://api.github.com) and the git host (as https://github.com)."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.emulators.github.app import create_app
from tests.emulators.github.state import TOKEN, GitHubState


class _SwappableApp:
    """The ASGI app of the current state, so a reset needs no new server."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class GitHubEmulatorServer:
    token = TOKEN

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tp-github-emulator-")
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
    def owner(self) -> str:
        return self.state.owner

    def reset(self) -> GitHubState:
        root = Path(tempfile.mkdtemp(dir=self._tmp.name))
        self.state = GitHubState(root)
        self.state.base_url = self.url
        self._app.app = create_app(self.state)
        return self.state

    def start(self) -> GitHubEmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the GitHub emulator did not start")
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

    def seed_repo(self, name: str, files: dict[str, str], owner: str | None = None) -> str:
        """Create `owner/name` (default owner: the emulator's) whose `main` holds `files`; returns main's sha."""
        return self.admin("POST", "repos", {"name": name, "files": files, "owner": owner})["head"]

    def add_token(self, token: str, *, read_only: bool = False) -> None:
        self.admin("POST", "tokens", {"token": token, "read_only": read_only})

    def arm(self, *faults: dict[str, Any]) -> None:
        self.admin("POST", "faults", list(faults))
