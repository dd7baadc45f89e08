"""`python -m include.spawner`: run the outbox consumer until stopped."""

from __future__ import annotations

import logging
import signal
import sys

from include.airflow_client import AirflowClient
from include.spawner.service import Spawner


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with AirflowClient.from_settings() as client:
        Spawner(airflow=client).serve()


if __name__ == "__main__":
    main()
