"""Serving the GitHub emulator to tests (see tests/emulators/common/server.py). The server's URL is both the
API root (as https://api.github.com) and the git host (as https://github.com)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.emulators.common.server import ThreadedServer
from tests.emulators.github.app import create_app
from tests.emulators.github.state import TOKEN, GitHubState


class GitHubEmulatorServer(ThreadedServer[GitHubState]):
    label = "GitHub"
    token = TOKEN

    def new_state(self, root: Path) -> GitHubState:
        return GitHubState(root)

    def create_app(self, state: GitHubState) -> Any:
        return create_app(state)

    @property
    def owner(self) -> str:
        return self.state.owner

    def seed_repo(self, name: str, files: dict[str, str], owner: str | None = None) -> str:
        """Create `owner/name` (default owner: the emulator's) whose `main` holds `files`; returns main's sha."""
        return self.admin("POST", "repos", {"name": name, "files": files, "owner": owner})["head"]

    def add_token(self, token: str, *, read_only: bool = False) -> None:
        self.admin("POST", "tokens", {"token": token, "read_only": read_only})
