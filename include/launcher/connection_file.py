"""Where a running embedded platform can be reached from another shell: `make up` writes the settings its own
components get (database, forge, Airflow API) to `<home>/connection.json`, readable by its owner only, and
removes it on the way down. The `ticketpilot` command reads it when the environment names no database, so a
newcomer's second terminal needs no exported URL."""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "connection.json"
KEYS = ("TICKETPILOT_HOME", "TICKETPILOT_DB_URL", "TICKETPILOT_FORGE_DIR", "TICKETPILOT_AIRFLOW_URL",
        "TICKETPILOT_AIRFLOW_USER", "TICKETPILOT_AIRFLOW_PASSWORD")


def write(home: Path, env: dict[str, str]) -> Path:
    """Write the platform's settings (owner-only: the file holds the admin password)."""
    path = Path(home) / FILE_NAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({key: env[key] for key in KEYS if key in env}, handle, indent=2)
    tmp.replace(path)
    return path


def remove(home: Path) -> None:
    (Path(home) / FILE_NAME).unlink(missing_ok=True)


def read(home: Path) -> dict[str, str] | None:
    """The settings a running platform left at `home`, or None when none is running there."""
    path = Path(home) / FILE_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return {key: str(value) for key, value in data.items() if key in KEYS}
