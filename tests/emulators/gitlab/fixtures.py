"""Pytest fixtures for the GitLab emulator; test folders that need it import them into their conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators.gitlab.server import GitLabEmulator


@pytest.fixture(scope="session")
def gitlab_server() -> Iterator[GitLabEmulator]:
    server = GitLabEmulator().start()
    yield server
    server.stop()


@pytest.fixture
def gitlab_emulator(gitlab_server: GitLabEmulator) -> GitLabEmulator:
    """The session's emulator with fresh state: no projects, merge requests or faults; one maintainer token."""
    gitlab_server.reset()
    return gitlab_server
