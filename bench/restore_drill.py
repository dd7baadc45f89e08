"""Backup time and recovery time (RTO) of the platform database, through the nightly DAG's own code path.

    PYTHONPATH=. .venv/bin/python bench/restore_drill.py --tickets 10000 --tenants 100

Starts an embedded PostgreSQL (pgserver, with its own pg_dump and pg_restore) in a temporary folder, migrates
it and seeds a **synthetic** volume: the tenants, their tickets (a 2 KB ticket document each), three audit rows
per ticket through the real hash chain, and eight model calls per ticket in each tenant's ledger. Then one
backup (`take_backup`) and one restore drill (`drill`: restore into a scratch database, every row count held to
the manifest, audit chain walked). The last line holds the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import pgserver
from psycopg import sql

from include.maintenance.backup import read_manifest, take_backup
from include.maintenance.restore_drill import drill
from include.store import audit
from include.store.db import connect, migrate
from include.store.tenants import create_tenant
from model_serving.router import ledger

TICKET_DOC = {"title": "Export invoices as CSV", "description": "x" * 1900, "kind": "feature"}


def seed(db_url: str, tickets: int, tenants: int) -> None:
    with connect(db_url, autocommit=True) as conn:
        for t in range(tenants):
            create_tenant(conn, f"team{t}", f"team{t}", "bench-secret-bench", "app", [])
            ledger.ensure_tenant_schema(conn, f"team{t}")
        conn.execute(
            "INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, ticket) "
            "SELECT 'team' || (n %% %s) || '-' || n, 'team' || (n %% %s), n, 1, "
            "'ticket__team' || (n %% %s) || '__' || n, %s::jsonb FROM generate_series(1, %s) AS n",
            (tenants, tenants, tenants, json.dumps(TICKET_DOC), tickets))
        for t in range(tenants):
            conn.execute(sql.SQL(
                "INSERT INTO {} (idempotency_key, tenant, ticket_key, provider, model, status, tokens_in, tokens_out, "
                "cost_usd) SELECT %s || n, %s, %s || n, 'openai', 'gpt-4o-mini', 'ok', 1200, 300, 0.00042 "
                "FROM generate_series(1, %s) AS n").format(ledger.table(f"team{t}", "calls")),
                (f"team{t}-", f"team{t}", f"team{t}-", tickets * 8 // tenants))
        for start in range(0, tickets * 3, 1000):
            with conn.transaction():
                for n in range(start, min(start + 1000, tickets * 3)):
                    audit.append(conn, actor="bench", action="agent.step", subject=f"team{n % tenants}-{n // 3}",
                                 details={"step": n % 3})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=100)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="tp-bench-drill-"))
    server = pgserver.get_server(root / "pg", cleanup_mode="stop")
    try:
        with connect(server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE ticketpilot")
        db_url = server.get_uri("ticketpilot")
        migrate(db_url)
        started = time.monotonic()
        seed(db_url, args.tickets, args.tenants)
        print(f"seeded {args.tickets} synthetic tickets over {args.tenants} tenants in "
              f"{time.monotonic() - started:.1f} s")
        manifest_path = take_backup(db_url, root / "backups")
        manifest = read_manifest(manifest_path)
        report = drill(manifest_path, db_url)
        print(report.line())
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, PostgreSQL {manifest.server_version}")
        print(f"tickets={args.tickets} tenants={args.tenants} rows={report.rows} dump_mb={manifest.bytes / 1e6:.1f} "
              f"backup_s={manifest.duration_s:.2f} restore_s={report.restore_s:.2f} rto_s={report.rto_s:.2f} "
              f"drill={'passed' if report.passed else 'FAILED'}")
    finally:
        server._cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
