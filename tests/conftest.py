"""Shared fixtures: one real embedded PostgreSQL (pgserver) per test session, migrated once."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest

# Airflow reads its config at import: give the tests their own home, never the user's ~/airflow.
os.environ["AIRFLOW_HOME"] = os.path.join(tempfile.gettempdir(), f"ticketpilot-tests-airflow-{os.getpid()}")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

from include.settings import get_settings  # noqa: E402
from include.store.db import connect, migrate  # noqa: E402

PLATFORM_TABLES = (
    "tickets, deliveries, outbox, gate_requests, gate_decisions, audit_log, "
    "pr_statuses, pr_comments, pull_requests, tenants, budget_alerts_sent, router_tokens, "
    "policy_bundles, break_glass, admin_totp"
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`make test`'s workers: e2e modules grouped per tests/e2e/groups.py."""
    from tests.e2e.groups import E2eGroupScheduling

    return E2eGroupScheduling(config, log)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgserver.PostgresServer]:
    # Own temp dir, not pytest's numbered basetemp: a concurrent pytest run may prune those.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="tp-test-pg-"))
    server = pgserver.get_server(root / "data", cleanup_mode="stop")
    yield server
    server._cleanup()  # stop it now, while logging still works, rather than at interpreter exit
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def db_url(pg_server: pgserver.PostgresServer) -> Iterator[str]:
    """A fresh, migrated database; exported as TICKETPILOT_DB_URL for code under test."""
    name = f"tp_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.get_uri(name)
    migrate(url)
    previous = os.environ.get("TICKETPILOT_DB_URL")
    os.environ["TICKETPILOT_DB_URL"] = url
    get_settings.cache_clear()
    yield url
    if previous is None:
        os.environ.pop("TICKETPILOT_DB_URL", None)
    else:
        os.environ["TICKETPILOT_DB_URL"] = previous
    get_settings.cache_clear()


@pytest.fixture
def db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[psycopg.Connection]:
    """An autocommit connection on a database emptied before the test; code under test sees the same one."""
    monkeypatch.setenv("TICKETPILOT_DB_URL", db_url)
    get_settings.cache_clear()
    with connect(db_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # past the audit log's TRUNCATE trigger
        conn.execute(f"TRUNCATE {', '.join('ticketpilot.' + t.strip() for t in PLATFORM_TABLES.split(','))} "
                     "RESTART IDENTITY CASCADE")
        conn.execute("RESET session_replication_role")
        yield conn


@pytest.fixture
def no_ledger(db: psycopg.Connection) -> None:
    """No ledger schema of tenant `team-own` left by an earlier test (truncating the platform tables keeps
    tenant schemas): the Team Directory tests set its budget."""
    db.execute('DROP SCHEMA IF EXISTS "tenant_team_own" CASCADE')
    db.execute("DELETE FROM ticketpilot.tenant_schemas WHERE tenant_id = 'team-own'")


@pytest.fixture
def forge_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private forge directory for bare repositories."""
    path = tmp_path / "forge"
    path.mkdir()
    monkeypatch.setenv("TICKETPILOT_FORGE_DIR", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests last: the fast suite reports first, and the platform starts once, at the end."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session")
def local_model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """llama.cpp's server on the embedded SmolLM2 model, started once for the tests that need the real model
    (their modules skip where `make local-model` has not installed it)."""
    from include.launcher.platform import free_port
    from model_serving import local

    log_path = tmp_path_factory.mktemp("local-model") / "local-model.log"
    with local.LocalModelServer(free_port(), log_path=log_path) as running:
        yield running
