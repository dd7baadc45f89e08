from __future__ import annotations

from tests.emulators.ado.fixtures import ado_emulator, ado_server

__all__ = ["ado_emulator", "ado_server"]
