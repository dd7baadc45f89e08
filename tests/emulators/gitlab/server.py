"""Serving the GitLab emulator to tests (see tests/emulators/common/server.py); each reset starts with one
maintainer token, `TOKEN`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.emulators.common.server import ThreadedServer
from tests.emulators.gitlab.app import create_app
from tests.emulators.gitlab.state import EmulatorState

TOKEN = "glpat-emulator-maintainer"


class GitLabEmulator(ThreadedServer[EmulatorState]):
    label = "GitLab"

    def new_state(self, root: Path) -> EmulatorState:
        state = EmulatorState(root)
        state.grant(TOKEN, "maintainer")
        return state

    def create_app(self, state: EmulatorState) -> Any:
        return create_app(state)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    def seed_project(self, name: str, files: dict[str, str]) -> str:
        """Create `<namespace>/<name>` whose `main` holds `files`; returns main's commit id."""
        return self.admin("POST", "projects", {"name": name, "files": files})["head"]

    def grant(self, token: str, role: str = "maintainer") -> None:
        self.admin("POST", "tokens", {"token": token, "role": role})
