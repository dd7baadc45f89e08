"""Pytest fixtures for the GitHub emulator; test folders that need it import them into their conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators.github.server import GitHubEmulatorServer


@pytest.fixture(scope="session")
def github_server() -> Iterator[GitHubEmulatorServer]:
    server = GitHubEmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture
def github_emulator(github_server: GitHubEmulatorServer) -> GitHubEmulatorServer:
    """The session's emulator with fresh state: no repositories, pull requests, extra tokens or faults."""
    github_server.reset()
    return github_server
