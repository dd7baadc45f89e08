from __future__ import annotations

from tests.emulators.gitlab.fixtures import gitlab_emulator, gitlab_server

__all__ = ["gitlab_emulator", "gitlab_server"]
