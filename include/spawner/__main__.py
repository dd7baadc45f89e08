"""`python -m include.spawner`: run the outbox consumer, and beside it the run nudger, until stopped."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from include.airflow_client import AirflowClient
from include.spawner.figures import platform_figures
from include.spawner.nudge import RunNudger
from include.spawner.service import Spawner
from include.telemetry import metrics


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    metrics.observe_platform(platform_figures)  # outbox depth and gate waits, read at each metrics export
    with AirflowClient.from_settings() as client:
        nudger = RunNudger.from_airflow_config()
        if nudger.metadata_url is not None:
            threading.Thread(target=nudger.serve, name="run-nudger", daemon=True).start()
        Spawner(airflow=client).serve()


if __name__ == "__main__":
    main()
