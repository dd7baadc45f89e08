"""The embedded PostgreSQL (pgserver): one server under the state folder, two databases.

Airflow's metadata lives in `airflow`, the platform's in `ticketpilot`: separate databases, as in
production, so either can move to a managed server on its own.

The server's `max_connections` is set from a budget of what the components can hold at most (Airflow's
SQLAlchemy pools, the platform's bounded pools, task processes), with headroom, and logged at start: a
hundred parked gates once exhausted the default 100 and took every component down (issue 14).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

DATABASES = ("airflow", "ticketpilot")
AIRFLOW_DB_PROCESSES = 4
"""api-server, scheduler, dag-processor, triggerer: each holds one SQLAlchemy pool."""
AIRFLOW_POOL_SIZE = 5
AIRFLOW_MAX_OVERFLOW = 10
"""Airflow's own defaults ([database] sql_alchemy_pool_size / max_overflow), set explicitly by airflow_env."""
TASK_CONNECTIONS = 2
"""A running task process (gate, merge, agent step) opens at most this many platform connections at once."""
HEADROOM = 0.5
RESERVED = 3
"""PostgreSQL's superuser_reserved_connections: kept for an operator's psql when everything else is in use."""


@dataclass(frozen=True)
class ConnectionBudget:
    """The most connections each part of the embedded platform can hold, and the server limit they imply."""

    parts: dict[str, int]

    @classmethod
    def embedded(cls, *, parallelism: int, pool_max: int) -> ConnectionBudget:
        return cls({
            "airflow": AIRFLOW_DB_PROCESSES * (AIRFLOW_POOL_SIZE + AIRFLOW_MAX_OVERFLOW),
            "task processes": parallelism * TASK_CONNECTIONS,
            "ingress pool": pool_max,
            "spawner": pool_max + 3,  # its pool, its LISTEN, and the run nudger's LISTEN and Airflow connection
            "gate waiter": 2,  # one LISTEN and one pooled connection per triggerer, whatever the gates parked
            "launcher": 2,  # migrations and the driver's own queries
        })

    @property
    def used(self) -> int:
        return sum(self.parts.values())

    @property
    def max_connections(self) -> int:
        return math.ceil(self.used * (1 + HEADROOM)) + RESERVED

    def describe(self) -> str:
        parts = ", ".join(f"{name} {n}" for name, n in self.parts.items())
        return (f"max_connections={self.max_connections}: components can hold {self.used} ({parts}), "
                f"+{HEADROOM:.0%} headroom, +{RESERVED} reserved")


@dataclass(frozen=True)
class EmbeddedPostgres:
    server: object  # pgserver.PostgresServer; kept alive for as long as this object lives
    socket_dir: str

    def libpq_url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"


def start(data_dir: Path, budget: ConnectionBudget | None = None) -> EmbeddedPostgres:
    """Start (or attach to) the server in `data_dir`, with `max_connections` from `budget`, and make sure both
    databases exist. A changed limit needs a restart, done here once (pgserver stops the server when its last
    handle in this process closes; a server someone else also holds keeps running and takes it next start)."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    if budget is not None:
        log.info("PostgreSQL connection budget: %s", budget.describe())
        with psycopg.connect(_admin_url(server), autocommit=True) as conn:
            current = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
            if current != budget.max_connections:
                conn.execute(f"ALTER SYSTEM SET max_connections = {int(budget.max_connections)}")
        if current != budget.max_connections:
            log.info("restarting PostgreSQL: max_connections %d -> %d", current, budget.max_connections)
            server._cleanup()  # type: ignore[attr-defined]
            server = pgserver.get_server(data_dir, cleanup_mode="stop")
    with psycopg.connect(_admin_url(server), autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for name in DATABASES:
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')
                log.info("created database %s", name)
    return EmbeddedPostgres(server=server, socket_dir=str(server.get_postmaster_info().socket_dir))


def _admin_url(server: object) -> str:
    return f"postgresql://postgres@/postgres?host={server.get_postmaster_info().socket_dir}"  # type: ignore[attr-defined]
