"""The embedded default's telemetry files: lines appended under an exclusive lock, since every process of the
platform (API server, spawner, task and agent processes) writes to the same file."""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def append_locked(path: Path, text: str) -> bool:
    """Append `text` (whole lines) to `path`; False, with a warning, when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            fcntl.flock(out, fcntl.LOCK_EX)
            try:
                out.write(text)
            finally:
                fcntl.flock(out, fcntl.LOCK_UN)
    except OSError as exc:
        log.warning("telemetry not written to %s: %s", path, exc)
        return False
    return True
