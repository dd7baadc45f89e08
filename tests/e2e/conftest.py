"""One real embedded platform per e2e session: pgserver, Airflow api-server/scheduler/dag-processor/triggerer
on LocalExecutor, the spawner. Tickets enter through the real webhook over real HTTP."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.launcher.demo import seed
from include.launcher.platform import Platform, free_port


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    home = Path(tempfile.mkdtemp(prefix="tp-e2e-"))
    platform = Platform(home=home, api_port=free_port(), heartbeat_timeout_s=20)
    try:
        platform.up()
        platform.wait_for_factory()
        seed(platform)
        yield platform
    finally:
        platform.down()
        shutil.rmtree(home, ignore_errors=True)
