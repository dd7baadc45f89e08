"""`python -m include.launcher up|demo`: the embedded platform (see `make up`, `make demo`)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import time

from include.agents.llm import BASE_URL_ENV, MODEL_ENV
from include.launcher.demo import demo_tenant, run_demo, seed
from include.launcher.platform import Platform
from include.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.launcher")
    parser.add_argument("command", choices=("up", "demo"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TICKETPILOT_API_PORT", "28080")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    password = os.environ.get("TICKETPILOT_ADMIN_PASSWORD", "admin")
    home = get_settings().home / args.command
    if args.command == "demo" and home.exists():
        print(f"Starting the demo from a clean state folder ({home}); `make up` keeps its own.")
        shutil.rmtree(home)
    platform = Platform(home=home, api_port=args.port, admin_password=password, local_model=True)
    started = time.monotonic()
    try:
        platform.up()
        platform.wait_for_factory()
        print(f"Platform up in {time.monotonic() - started:.0f}s: {platform.api_url}  (logs: {platform.paths.logs})")
        model = platform.env.get(MODEL_ENV)
        print(f"Model: {model} at {platform.env.get(BASE_URL_ENV) or 'its provider'} (PO refines criteria, Docs "
              "describes its PR)" if model else "Model: none (agents keep their deterministic text)")
        if args.command == "demo":
            return run_demo(platform)
        seed(platform)
        spec = demo_tenant()
        print(f"Airflow UI: {platform.api_url}  login admin / {password}  (approvers: alice/alice, bob/bob)\n"
              f"ADO hook:   POST {platform.api_url}/ticketpilot/hooks/ado/demo"
              f"  (HTTP Basic {spec.hook_username}:{spec.hook_secret})\n"
              f"Your repo:  .venv/bin/ticketpilot repo add {spec.tenant_id} NAME /path/or/git-url"
              "  (whole history; then tag a ticket repo:NAME; `ticketpilot tenant add` for your own tenant)\n"
              "Ctrl-C stops everything.")
        supervisor = platform.supervisor
        assert supervisor is not None
        shown = ""
        while True:  # components that exit are restarted by the watchdog; this loop only reports
            line = supervisor.status_line()
            if line != shown:
                print(line, flush=True)
                shown = line
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
    finally:
        platform.down()


if __name__ == "__main__":
    sys.exit(main())
