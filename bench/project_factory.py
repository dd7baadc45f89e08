"""Project Factory time per project against the ADO emulator: a first run that builds everything (project with
its asynchronous operation polled once a second as against the real service, repositories with a first commit,
pipeline, branch policies, five service hooks, wiki page) and a second run that must change nothing.

    PYTHONPATH=. .venv/bin/python bench/project_factory.py --projects 5 --repos 3

Starts an embedded PostgreSQL and the emulator in a temporary folder. The emulator answers in milliseconds, so
the figures are the factory's own cost plus the operation poll; the real service adds its latency per call
(the handbook's target is about 10 minutes per project there).
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

from include.project_factory.run import run_all
from include.project_factory.spec import ProjectSpec
from include.settings import get_settings
from include.store.db import connect, migrate
from include.store.tenants import create_tenant
from tests.emulators.ado.server import EmulatorServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--repos", type=int, default=3, help="repositories per project")
    parser.add_argument("--poll-s", type=float, default=1.0, help="operation poll interval")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="tp-bench-factory-"))
    server = pgserver.get_server(root / "pg", cleanup_mode="stop")
    emulator = EmulatorServer().start()
    try:
        db_url = server.get_uri("postgres")
        os.environ["TICKETPILOT_DB_URL"] = db_url
        os.environ["TICKETPILOT_HOME"] = str(root)
        get_settings.cache_clear()
        migrate(db_url)
        first, second = [], []
        for n in range(args.projects):
            tenant = f"team{n}"
            with connect(autocommit=True) as conn:
                create_tenant(conn, tenant, tenant, "initial", "repo-0", [], scm_kind="ado",
                              ado_org=emulator.state.org, ado_project=f"Project{n}")
            os.environ[f"AIRFLOW_CONN_ADO_{tenant.upper()}"] = json.dumps(
                {"conn_type": "azure_devops", "host": emulator.org_url, "password": "pat",
                 "extra": {"project": f"Project{n}"}})
            spec = ProjectSpec(tenant=tenant, repositories=[{"name": f"repo-{r}"} for r in range(args.repos)],
                               ingress_url=f"http://127.0.0.1:9/ticketpilot/hooks/ado/{tenant}")
            built = run_all(spec, poll_s=args.poll_s)
            again = run_all(spec, poll_s=args.poll_s)
            assert again.changes == [], again.changes
            first.append(built.seconds)
            second.append(again.seconds)
            print(f"{tenant}: {len(built.changes)} changes in {built.seconds:.2f} s; second run "
                  f"{again.seconds:.2f} s, no change")
    finally:
        emulator.stop()
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nmachine: {platform.node()} ({os.cpu_count()} cores), {args.repos} repositories per project, "
          f"operation poll {args.poll_s:g} s")
    print("| run | mean s | max s |\n|---|---|---|")
    print(f"| first (builds) | {sum(first) / len(first):.2f} | {max(first):.2f} |")
    print(f"| second (no-op) | {sum(second) / len(second):.2f} | {max(second):.2f} |")
    print(f"projects={args.projects} first_mean_s={sum(first) / len(first):.2f} "
          f"second_mean_s={sum(second) / len(second):.2f} noop=yes")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"wall {time.monotonic() - started:.1f} s")
