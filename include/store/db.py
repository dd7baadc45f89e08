"""Connections and versioned, idempotent SQL migrations."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg.rows import dict_row

from include.settings import get_settings

_MIGRATION_LOCK = 727_001  # pg_advisory_xact_lock key: one migrator at a time


def connect(db_url: str | None = None, **kwargs: object) -> psycopg.Connection:
    """A dict-row connection to the platform database."""
    return psycopg.connect(db_url or get_settings().require_db(), row_factory=dict_row, **kwargs)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file in migrations/, in order."""
    found = []
    for entry in resources.files("include.store.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text()))
    return sorted(found)


def migrate(db_url: str | None = None) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction. Returns the names applied."""
    applied: list[str] = []
    with connect(db_url) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS public.ticketpilot_migrations "
                "(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz DEFAULT now())"
            )
            done = {r["version"] for r in conn.execute("SELECT version FROM public.ticketpilot_migrations")}
            for version, name, sql in migrations():
                if version in done:
                    continue
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO public.ticketpilot_migrations (version, name) VALUES (%s, %s)", (version, name)
                )
                applied.append(name)
    return applied
