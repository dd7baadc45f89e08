"""Migration 0014 on a database with pre-chain rows: they keep their format-1 hashes in the `_legacy` chain and
still verify; new rows start tenant chains beside them."""

from __future__ import annotations

import json
import uuid

import pgserver
import psycopg

from include.store import audit
from include.store.audit.digest import GENESIS, digest_v1
from include.store.db import connect, migrate, migrations


def test_rows_written_before_the_chains_still_verify(pg_server: pgserver.PostgresServer) -> None:
    name = f"tp_legacy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.get_uri("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.get_uri(name)
    try:
        with connect(url) as conn:
            conn.execute("CREATE TABLE public.ticketpilot_migrations (version integer PRIMARY KEY, name text NOT "
                         "NULL, applied_at timestamptz DEFAULT now())")
            for version, file, sql in migrations():
                if version < 14:
                    conn.execute(sql)
                    conn.execute("INSERT INTO public.ticketpilot_migrations (version, name) VALUES (%s, %s)",
                                 (version, file))
            prev = GENESIS
            for i in range(3):  # as the pre-0014 code appended
                details = {"i": i}
                digest = digest_v1(prev, "alice", "gate.approve", f"demo-{i}", details)
                conn.execute("INSERT INTO ticketpilot.audit_log (actor, action, subject, details, prev_hash, hash) "
                             "VALUES ('alice', 'gate.approve', %s, %s, %s, %s)",
                             (f"demo-{i}", json.dumps(details), prev, digest))
                prev = digest
        assert migrate(url) == [f for v, f, _ in migrations() if v >= 14]
        with connect(url, autocommit=True) as conn:
            audit.append(conn, actor="bob", action="gate.reject", subject="demo-9", details={}, tenant="demo")
            result = audit.verify(conn)
            assert result.ok and result.rows == {audit.LEGACY_CHAIN: 3, "demo": 1}
            assert [r["seq"] for r in conn.execute(
                "SELECT seq FROM ticketpilot.audit_log WHERE chain = '_legacy' ORDER BY id")] == [1, 2, 3]
    finally:
        with psycopg.connect(pg_server.get_uri("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
