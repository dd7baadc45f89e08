"""Process-wide settings, read from the environment once. Precedence: argument, then environment, then default."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    home: Path
    db_url: str
    forge_dir: Path
    runner: str = "local"
    airflow_api_url: str = "http://127.0.0.1:28080"
    airflow_user: str = "admin"
    airflow_password: str = "admin"
    external_poll_s: float = 30.0
    """Seconds between checks of an outside system a task waits on (ADO pipeline runs)."""

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("TICKETPILOT_HOME", REPO_ROOT / ".ticketpilot")).resolve()
        return cls(
            home=home,
            db_url=os.environ.get("TICKETPILOT_DB_URL", ""),
            forge_dir=Path(os.environ.get("TICKETPILOT_FORGE_DIR", home / "forge")),
            runner=os.environ.get("TICKETPILOT_RUNNER", "local"),
            airflow_api_url=os.environ.get("TICKETPILOT_AIRFLOW_URL", "http://127.0.0.1:28080"),
            airflow_user=os.environ.get("TICKETPILOT_AIRFLOW_USER", "admin"),
            airflow_password=os.environ.get("TICKETPILOT_AIRFLOW_PASSWORD", "admin"),
            external_poll_s=float(os.environ.get("TICKETPILOT_EXTERNAL_POLL_S", "30")),
        )

    def require_db(self) -> str:
        if not self.db_url:
            raise RuntimeError(
                "TICKETPILOT_DB_URL is not set: start the platform with `make up` (embedded PostgreSQL) "
                "or point it at a PostgreSQL database, e.g. postgresql://user@host:5432/ticketpilot"
            )
        return self.db_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
