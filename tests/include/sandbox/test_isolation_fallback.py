"""Where bubblewrap (or also `unshare`) is missing, the sandbox keeps what remains, warns loudly, reports the
isolation it applied, and the step's audit record says so."""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from include.sandbox import Isolation, Sandbox, record_isolation
from include.sandbox import isolation as iso
from include.sandbox.record import ACTION
from tests.include.sandbox.conftest import PIN

TRY_CONNECT = ("import socket, sys\ntry:\n    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3)\n"
               "    print('connected')\nexcept OSError as exc:\n    print(type(exc).__name__)\n")


@pytest.fixture
def missing(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Names of tools to hide from the sandbox; the isolation probe runs again with them gone."""
    hidden: set[str] = set()
    found = iso.which
    monkeypatch.setattr(iso, "which", lambda name: None if name in hidden else found(name))
    iso.available.cache_clear()
    yield hidden
    iso.available.cache_clear()


def test_without_bubblewrap_unshare_still_takes_the_network(
    missing: set[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing.add("bwrap")
    if iso.available() is not Isolation.UNSHARE:
        pytest.skip("`unshare --net` does not work on this machine either")
    with caplog.at_level(logging.WARNING, logger="include.sandbox.isolation"):
        sandbox = Sandbox.for_tools(tmp_path)
    assert "SANDBOX DEGRADED" in caplog.text and "'unshare'" in caplog.text
    with socket.create_server(("127.0.0.1", 0)) as listener:
        result = sandbox.run([sandbox.python, "-c", TRY_CONNECT, str(listener.getsockname()[1])])
    assert result.isolation == "unshare"
    assert result.stdout.strip() in ("OSError", "ConnectionRefusedError"), "loopback down or empty: never connected"


def test_with_nothing_left_the_allowlist_and_limits_remain(
    missing: set[str], tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing.update({"bwrap", "unshare", "prlimit"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-provider-key")
    with caplog.at_level(logging.WARNING, logger="include.sandbox.isolation"):
        sandbox = Sandbox.for_tools(tmp_path)
    assert "SANDBOX DEGRADED" in caplog.text and "'none'" in caplog.text
    probe = ("import json, os, resource; print(json.dumps([sorted(os.environ), "
             "resource.getrlimit(resource.RLIMIT_NOFILE)[0]]))")
    result = sandbox.run([sys.executable, "-c", probe])
    names, nofile = json.loads(result.stdout)
    assert result.isolation == "none"
    assert "OPENAI_API_KEY" not in names and "HOME" in names
    assert nofile == sandbox.limits.nofile, "rlimits are set in the child without prlimit"


def test_the_isolation_goes_to_the_audit_log(db: psycopg.Connection, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(PIN + "\n")
    sandbox = Sandbox.for_workdir(tmp_path)
    record_isolation("acme#7", "test", sandbox)
    [row] = db.execute("SELECT actor, subject, details FROM ticketpilot.audit_log WHERE action = %s",
                       (ACTION,)).fetchall()
    assert (row["actor"], row["subject"]) == ("agent-test", "acme#7")
    assert row["details"] == {"step": "test", "isolation": sandbox.isolation.value, "venv": sandbox.venv.name}


def test_without_a_database_the_isolation_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("TICKETPILOT_DB_URL", raising=False)
    with caplog.at_level(logging.WARNING, logger="include.sandbox.record"):
        record_isolation("acme#8", "review", Sandbox.for_tools(tmp_path))
    assert f"acme#8 review ran repository code with isolation '{iso.available().value}'" in caplog.text
