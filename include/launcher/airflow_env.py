"""The environment every Airflow component and agent process of the embedded platform shares.

Configuration goes through `AIRFLOW__SECTION__KEY` variables rather than an edited airflow.cfg, so the
same values reach the api-server, scheduler, dag-processor, triggerer and the task processes.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from include.launcher import embedded_pg
from include.settings import REPO_ROOT
from include.store import pool

DEFAULT_USERS = {"admin": "admin", "alice": "op", "bob": "op"}
"""Airflow users of the embedded platform: an admin, and two people who can approve gates."""


@dataclass(frozen=True)
class PlatformPaths:
    home: Path

    @property
    def pg_data(self) -> Path:
        return self.home / "pg" / "data"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def forge(self) -> Path:
        return self.home / "forge"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    @property
    def passwords_file(self) -> Path:
        return self.home / "airflow" / "passwords.json"


def _secrets(paths: PlatformPaths) -> dict[str, str]:
    """Generated once per state folder, so restarts keep sessions and tokens valid."""
    fresh = {"jwt_secret": secrets.token_urlsafe(64), "api_secret_key": secrets.token_urlsafe(32),
             # Encrypts connection passwords and tenants' GitHub webhook secrets at rest (Fernet: 32 url-safe
             # base64 bytes); kept with the platform, because losing it loses what it encrypted.
             "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}
    if paths.secrets_file.exists():
        values = json.loads(paths.secrets_file.read_text())
        if set(fresh) <= set(values):
            return values
        values = fresh | values  # a home from before a secret existed keeps its others
    else:
        values = fresh
    paths.secrets_file.parent.mkdir(parents=True, exist_ok=True)
    paths.secrets_file.write_text(json.dumps(values))
    paths.secrets_file.chmod(0o600)
    return values


def write_passwords(paths: PlatformPaths, admin_password: str) -> dict[str, str]:
    """Known passwords for the simple auth manager: admin's from the environment, approvers' derived."""
    passwords = {"admin": admin_password, "alice": "alice", "bob": "bob"}
    paths.passwords_file.parent.mkdir(parents=True, exist_ok=True)
    paths.passwords_file.write_text(json.dumps(passwords))
    return passwords


def platform_env(
    paths: PlatformPaths,
    *,
    airflow_db_url: str,
    ticketpilot_db_url: str,
    api_port: int,
    admin_password: str,
    parallelism: int = 4,
    log_server_ports: tuple[int, int] = (8793, 8794),
    heartbeat_timeout_s: int = 60,
) -> dict[str, str]:
    """Environment for every process the launcher starts (Airflow components, spawner, agents)."""
    values = _secrets(paths)
    write_passwords(paths, admin_password)
    api_url = f"http://127.0.0.1:{api_port}"
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
            "AIRFLOW_HOME": str(paths.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # 2 cores: a handful of worker processes, not LocalExecutor's default 32.
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in DEFAULT_USERS.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(paths.passwords_file),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db_url,
            # Explicit, because embedded_pg.ConnectionBudget counts on them for the server's max_connections.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": str(embedded_pg.AIRFLOW_POOL_SIZE),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": str(embedded_pg.AIRFLOW_MAX_OVERFLOW),
            pool.POOL_MAX_ENV: str(pool.pool_max()),
            "AIRFLOW__API__HOST": "127.0.0.1",  # the embedded platform is for this machine only
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": values["api_secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": values["jwt_secret"],
            "AIRFLOW__CORE__FERNET_KEY": values["fernet_key"],
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
            # One machine: a task whose process died is noticed in a minute, not Airflow's default five.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout_s),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            # A restarted scheduler only watches a dead one's running tasks once it has adopted them, and it
            # looks for orphans every 300 s by default: after a scheduler crash a task waited up to 5 minutes.
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": str(heartbeat_timeout_s),
            # The scheduler examines running DAG runs round-robin, 20 per loop by default: with a hundred tickets
            # parked at gates, an approved one waited several loops before its merge was queued (bench/parked.py:
            # approval -> next step p95 5.0 s at 20, 1.4 s at 200, against Airflow HITL's 2.4 s in the same run).
            "AIRFLOW__SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE": env_default(
                "AIRFLOW__SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE", "200"),
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            # A task parses its DAG file when it starts. On a loaded 2-core machine (two platforms and a test
            # worker) that parse took over Airflow's 30 s, and the task failed with "Dag not found" and retried.
            # The ticket factory's parse is measured (tests/dags/test_ticket_factory.py); 120 s is for load.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_server_ports[1]),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(paths.airflow_home / "logs"),
            "TICKETPILOT_HOME": str(paths.home),
            "TICKETPILOT_DB_URL": ticketpilot_db_url,
            "TICKETPILOT_FORGE_DIR": str(paths.forge),
            "TICKETPILOT_RUNNER": env_default("TICKETPILOT_RUNNER", "local"),
            "TICKETPILOT_AIRFLOW_URL": api_url,
            "TICKETPILOT_AIRFLOW_USER": "admin",
            "TICKETPILOT_AIRFLOW_PASSWORD": admin_password,
        }
    )
    return env


def env_default(name: str, default: str) -> str:
    return os.environ.get(name) or default
