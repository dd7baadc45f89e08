from __future__ import annotations

from tests.emulators.github.fixtures import github_emulator, github_server

__all__ = ["github_emulator", "github_server"]
