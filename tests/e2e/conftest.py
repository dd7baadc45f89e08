"""One real embedded platform per e2e session: pgserver, Airflow api-server/scheduler/dag-processor/triggerer
on LocalExecutor, the spawner. Tickets enter through the real webhook over real HTTP.

The ADO emulator starts first, so the platform can start with the Airflow connection of the ADO-backed
tenant `contoso` in its environment (`AIRFLOW_CONN_ADO_CONTOSO`): one platform serves both kinds of tenant.
So does a backup LLM server (the OpenAI-compatible emulator), named by `OPENAI_COMPATIBLE_BASE_URL` the way a
deployment names a fallback provider; tenants without a model connection or routing policy never call it."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.launcher.demo import seed
from include.launcher.platform import Platform, free_port
from include.scm.local import LocalForge
from include.tenancy.provision import provision
from tests.e2e import groups
from tests.e2e.groups import E2E_GROUPS
from tests.e2e.helpers import ACME
from tests.emulators.ado.fixtures import ado_server
from tests.emulators.ado.server import EmulatorServer
from tests.emulators.llm.emulator import Emulator
from tests.emulators.llm.emulator import EmulatorServer as LlmServer

__all__ = ["acme", "ado_server", "ado_connection_env", "llm_backup", "platform"]

ADO_TENANT = "contoso"

ADO_PAT = "contoso-e2e-pat"


def ado_connection_env(emulator: EmulatorServer) -> dict[str, str]:
    """The tenant's `ado_<tenant>` Airflow connection, defined the way a deployment's secrets would be."""
    conn = {"conn_type": "azure_devops", "host": emulator.org_url, "password": ADO_PAT,
            "extra": {"project": emulator.state.project}}
    return {f"AIRFLOW_CONN_ADO_{ADO_TENANT.upper()}": json.dumps(conn)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A new e2e module must be placed in a group (tests/e2e/groups.py), or `make test` would spread its
    tests over workers that each bring up a platform."""
    here = Path(__file__).parent
    for item in items:
        if item.path.parent == here and item.path.name not in E2E_GROUPS:
            raise pytest.UsageError(f"{item.path.name} has no xdist group: add it to E2E_GROUPS in {groups.__file__}")


@pytest.fixture(scope="session")
def llm_backup() -> Iterator[Emulator]:
    with LlmServer("openai") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def platform(ado_server: EmulatorServer, llm_backup: Emulator) -> Iterator[Platform]:
    home = Path(tempfile.mkdtemp(prefix="tp-e2e-"))
    # heartbeat 40 s: a dead task (the SIGKILL test) is still noticed well inside a test's time, while a live one
    # whose heartbeat is late on a loaded CI machine (two platforms share two cores) is not failed as a zombie.
    platform = Platform(home=home, api_port=free_port(), heartbeat_timeout_s=40,
                        extra_env={**ado_connection_env(ado_server), "TICKETPILOT_EXTERNAL_POLL_S": "1",
                                   "OPENAI_COMPATIBLE_BASE_URL": f"{llm_backup.url}/v1"})
    try:
        platform.up()
        platform.wait_for_factory()
        seed(platform)
        yield platform
    finally:
        platform.down()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def acme(platform: Platform) -> LocalForge:
    """Tenant `acme` of the unhappy-path tests, provisioned once."""
    with platform.client() as client:
        provision(ACME, client)
    return LocalForge.from_settings("acme")
