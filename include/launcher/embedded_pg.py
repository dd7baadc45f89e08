"""The embedded PostgreSQL (pgserver): one server under the state folder, two databases.

Airflow's metadata lives in `airflow`, the platform's in `ticketpilot`: separate databases, as in
production, so either can move to a managed server on its own.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

DATABASES = ("airflow", "ticketpilot")


@dataclass(frozen=True)
class EmbeddedPostgres:
    server: object  # pgserver.PostgresServer; kept alive for as long as this object lives
    socket_dir: str

    def libpq_url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"


def start(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the server in `data_dir` and make sure both databases exist."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    admin_url = f"postgresql://postgres@/postgres?host={socket_dir}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for name in DATABASES:
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')
                log.info("created database %s", name)
    return EmbeddedPostgres(server=server, socket_dir=str(socket_dir))
