"""Pytest fixtures for the ADO emulator; test folders that need it import them into their conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators.ado.server import EmulatorServer


@pytest.fixture(scope="session")
def ado_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture
def ado_emulator(ado_server: EmulatorServer) -> EmulatorServer:
    """The session's emulator with fresh state: no repositories, work items, PRs or faults."""
    ado_server.reset()
    return ado_server
