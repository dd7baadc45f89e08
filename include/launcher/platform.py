"""The embedded platform as one object: up() starts everything in order, down() stops it all.

Once everything is up, the supervisor's watchdog restarts any component that exits (include/launcher/processes.py).

With `local_model=True` (what `make demo` and `make up` ask for) and the local model installed, the llama.cpp
server is one more supervised component, and every component's environment points agents at it. The e2e
tests leave it off: their tickets need no model, and a model would only make them slower."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from include.airflow_client import AirflowClient
from include.contracts.ticket import FACTORY_DAG_ID
from include.launcher import connection_file, embedded_pg, local_model
from include.launcher.airflow_env import PlatformPaths, platform_env
from include.launcher.processes import AIRFLOW_COMPONENTS, Supervisor, airflow_bin
from include.settings import get_settings
from include.store import pool
from include.store.db import migrate
from model_serving.local import MODEL_SPEC, LocalModelServer

log = logging.getLogger("ticketpilot.launcher")
_ADOPTED = connection_file.KEYS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Platform:
    home: Path
    api_port: int = 28080
    admin_password: str = "admin"
    parallelism: int = 4
    heartbeat_timeout_s: int = 60
    local_model: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    """Added to every component's environment, e.g. `AIRFLOW_CONN_*` connections of SCM-backed tenants."""
    model_server: LocalModelServer | None = None
    pg: embedded_pg.EmbeddedPostgres | None = None
    supervisor: Supervisor | None = None
    env: dict[str, str] = field(default_factory=dict)
    _previous_env: dict[str, str | None] = field(default_factory=dict)

    @property
    def paths(self) -> PlatformPaths:
        return PlatformPaths(self.home)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def up(self) -> Platform:
        budget = embedded_pg.ConnectionBudget.embedded(parallelism=self.parallelism, pool_max=pool.pool_max())
        self.pg = embedded_pg.start(self.paths.pg_data, budget)
        self.env = platform_env(
            self.paths,
            airflow_db_url=self.pg.sqlalchemy_url("airflow"),
            ticketpilot_db_url=self.pg.libpq_url("ticketpilot"),
            api_port=self.api_port,
            admin_password=self.admin_password,
            parallelism=self.parallelism,
            log_server_ports=(free_port(), free_port()),
            heartbeat_timeout_s=self.heartbeat_timeout_s,
        ) | self.extra_env
        if self.local_model:
            self.model_server = local_model.plan(self.env, self.paths.logs, free_port())
        if self.model_server is not None:
            self.env.update(local_model.client_env(self.model_server))
        self._adopt_env()
        migrate(self.env["TICKETPILOT_DB_URL"])
        self.supervisor = Supervisor(self.env, self.paths.logs)
        if self.model_server is not None:  # the model loads while Airflow migrates and starts
            log.info("starting the local model %s at %s", MODEL_SPEC, self.model_server.base_url)
            self.supervisor.adopt(local_model.COMPONENT, self.model_server.start(), restart=self.model_server.start)
        log.info("migrating Airflow's metadata database")
        self.supervisor.run_once([airflow_bin(), "db", "migrate"], "db-migrate")
        for name in AIRFLOW_COMPONENTS:
            self.supervisor.start(name)
        self.supervisor.wait_http(f"{self.api_url}/api/v2/monitor/health")
        if self.model_server is not None:
            self.supervisor.wait_http(self.model_server.models_url)
        self.supervisor.start("spawner")
        self.supervisor.start_watchdog()  # from here on, a component that exits is restarted, never fatal
        connection_file.write(self.home, self.env)
        return self

    def wait_for_factory(self, timeout: float = 120) -> None:
        """The anchor DAG must be serialised before the spawner can ask for re-parses."""
        import time

        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                assert self.supervisor is not None
                self.supervisor.check_alive()
                if client.dag_exists(FACTORY_DAG_ID):
                    return
                time.sleep(0.5)
        raise TimeoutError("the factory DAG was not parsed in time; see logs/dag-processor.log")

    def client(self) -> AirflowClient:
        return AirflowClient(self.api_url, "admin", self.admin_password)

    def down(self) -> None:
        connection_file.remove(self.home)
        if self.supervisor is not None:
            self.supervisor.stop_all()
        self.model_server = None
        if self.pg is not None:
            self.pg.server._cleanup()  # type: ignore[attr-defined]  # pgserver stops once its last user leaves
            self.pg = None
        self._restore_env()

    def _adopt_env(self) -> None:
        """This process (demo driver, tests) talks to the same database and API as the components."""
        for key in _ADOPTED:
            self._previous_env.setdefault(key, os.environ.get(key))
            os.environ[key] = self.env[key]
        get_settings.cache_clear()

    def _restore_env(self) -> None:
        for key, value in self._previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._previous_env.clear()
        get_settings.cache_clear()
