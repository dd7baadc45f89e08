"""Every way out of the sandbox that issue 8 names, tried for real from inside it, and shown to fail while the
platform outside stays untouched: its settings and keys, its files, the network, writes outside the working
copy, pushing to origin, unbounded forking, and Ticketpilot's own packages."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from include.agents.workspace import NO_PUSH_URL, checked_out, disarm
from include.demo.repo import demo_repo_files
from include.sandbox import Limits, Sandbox
from include.scm.git import run_git
from include.scm.local import LocalForge
from tests.include.sandbox.conftest import PIN, needs_bwrap

POSTGRES = ("127.0.0.1", 5432)
PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"
TRY_READ = """import json, sys
seen = {}
for path in sys.argv[1:]:
    try:
        with open(path) as handle:
            seen[path] = handle.read()
    except OSError as exc:
        seen[path] = type(exc).__name__
print(json.dumps(seen))
"""
TRY_WRITE = TRY_READ.replace("open(path) as handle:\n            seen[path] = handle.read()",
                             "open(path, 'w') as handle:\n            seen[path] = handle.write('escaped')")
TRY_CONNECT = """import json, socket, sys
seen = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(':', 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        seen[target] = 'connected'
    except OSError as exc:
        seen[target] = type(exc).__name__
print(json.dumps(seen))
"""
FORK_BOMB = """import os, sys, time
forked = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        forked += 1
except OSError as exc:
    print(f"bounded after {forked} forks: {exc.strerror}")
    sys.exit(3)
"""


def run_json(sandbox: Sandbox, script: str, *args: str) -> dict[str, object]:
    result = sandbox.run([sandbox.python, "-c", script, *args], timeout_s=60)
    assert result.exit_code == 0, result.output_tail
    return json.loads(result.stdout)


def test_platform_settings_and_provider_keys_do_not_reach_the_code(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://airflow:pw@db/airflow",
               "AIRFLOW__CORE__FERNET_KEY": "fernet-secret", "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret",
               "TICKETPILOT_DB_URL": "postgresql://tp:pw@db/tp", "OPENAI_API_KEY": "sk-provider-key"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    result = sandbox.run([sandbox.python, "-c", PRINT_ENV])
    env = json.loads(result.stdout)
    assert not set(secrets) & set(env)
    assert not any(value in result.stdout for value in secrets.values())
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE", "COLUMNS", "VIRTUAL_ENV",
                        "PYTHONPATH", "GIT_TERMINAL_PROMPT", "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0",
                        "GIT_CONFIG_VALUE_0", "PWD"}, "built from an allowlist, never copied from the worker"


@needs_bwrap
def test_airflow_home_and_the_ticketpilot_dir_are_not_readable(
    sandbox: Sandbox, ticketpilot_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    (airflow_home / "simple_auth_manager_passwords.json.generated").write_text('{"admin": "af-secret"}')
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    targets = [airflow_home / "simple_auth_manager_passwords.json.generated", ticketpilot_home / "admin-password",
               Path.home() / ".bash_history", Path("/etc/shadow")]
    seen = run_json(sandbox, TRY_READ, *map(str, targets))
    assert all(seen[str(path)] in ("FileNotFoundError", "PermissionError") for path in targets), seen
    assert sandbox.venv is not None and ticketpilot_home in sandbox.venv.parents, "the venv, beside them, works"


@needs_bwrap
def test_no_outbound_connection_opens(sandbox: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=3).close()  # reachable from the platform
        targets = [f"127.0.0.1:{port}", "1.1.1.1:443"]
        if _listening(POSTGRES):
            targets.append("{}:{}".format(*POSTGRES))
        seen = run_json(sandbox, TRY_CONNECT, *targets)
    assert all(seen[target] != "connected" for target in targets), seen


def _listening(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError:
        return False
    return True


@needs_bwrap
def test_writes_land_only_in_the_working_copy(sandbox: Sandbox, ticketpilot_home: Path) -> None:
    assert sandbox.venv is not None
    outside = [sandbox.workdir.parent / "escaped.txt", ticketpilot_home / "escaped.txt",
               sandbox.venv / "escaped.txt", Path(sys.prefix) / "escaped.txt", Path("/usr/local/escaped.txt"),
               Path.home() / f"escaped-{uuid.uuid4().hex}.txt"]
    inside = sandbox.workdir / "written.txt"
    seen = run_json(sandbox, TRY_WRITE, *map(str, [*outside, inside]))
    assert seen[str(inside)] == len("escaped") and inside.read_text() == "escaped"
    for path in outside:
        assert seen[str(path)] in ("FileNotFoundError", "PermissionError", "OSError"), (path, seen)
        assert not path.exists(), path


@pytest.fixture
def pushy(db: psycopg.Connection, forge_dir: Path) -> Iterator[tuple[LocalForge, Path]]:
    """A real local forge repository and a working copy of its main branch, checked out as agents do."""
    forge = LocalForge.from_settings(f"t{uuid.uuid4().hex[:10]}")
    forge.create_repo("pushy", demo_repo_files() | {"requirements.txt": PIN + "\n"})
    with checked_out(forge, "pushy", "main") as workdir:
        yield forge, workdir


@needs_bwrap
def test_git_push_to_origin_fails(pushy: tuple[LocalForge, Path]) -> None:
    forge, workdir = pushy
    bare = forge.repo_path("pushy")
    before = run_git("rev-parse", "refs/heads/main", cwd=bare).stdout
    sandbox = Sandbox.for_workdir(workdir)
    script = ("set -x; git -c user.name=m -c user.email=m@x commit -q --allow-empty -m evil; "
              f"git push origin HEAD:main; git push origin HEAD:refs/heads/evil; git push {bare} HEAD:main; "
              "git push origin --mirror; echo done")
    result = sandbox.run(["sh", "-c", script], timeout_s=60)
    assert "done" in result.stdout
    assert result.stderr.count("no-push") >= 2 and "does not appear to be a git repository" in result.stderr
    assert run_git("rev-parse", "refs/heads/main", cwd=bare).stdout == before
    assert run_git("branch", "--list", "evil", cwd=bare).stdout == ""


def test_the_working_copy_carries_no_credentials(pushy: tuple[LocalForge, Path]) -> None:
    _, workdir = pushy
    assert run_git("config", "--get", "remote.origin.pushurl", cwd=workdir).stdout.strip() == NO_PUSH_URL
    assert run_git("rev-parse", "--verify", "refs/remotes/origin/main", cwd=workdir).stdout.strip()
    token = "ado-pat-" + uuid.uuid4().hex  # what a hosted clone would carry, had git been given it on disk
    run_git("config", "http.https://dev.azure.com/.extraheader", f"AUTHORIZATION: basic {token}", cwd=workdir)
    run_git("config", "http.extraHeader", f"Authorization: Bearer {token}", cwd=workdir)
    run_git("config", "credential.helper", f"store --file /tmp/{token}", cwd=workdir)
    run_git("config", "remote.origin.url", f"https://user:{token}@dev.azure.com/org/p/_git/pushy", cwd=workdir)
    disarm(workdir)
    config = (workdir / ".git" / "config").read_text()
    assert token not in config
    assert "url = https://dev.azure.com/org/p/_git/pushy" in config and f"pushurl = {NO_PUSH_URL}" in config


@needs_bwrap
def test_forking_without_bound_is_stopped_and_the_machine_survives(repo: Path) -> None:
    sandbox = Sandbox.for_workdir(repo, limits=Limits(nproc=64, cpu_s=20))
    result = sandbox.run([sandbox.python, "-c", FORK_BOMB], timeout_s=60)
    assert result.exit_code == 3, result.output_tail
    forked = int(result.stdout.split("after ")[1].split()[0])
    assert forked < 64 and result.duration_s < 30
    assert subprocess.run(["true"], check=False).returncode == 0


def test_platform_packages_are_not_importable_and_the_pin_is(sandbox: Sandbox) -> None:
    probe = ("import importlib.util, json, six; print(json.dumps({'six': six.__version__, 'missing': [m for m in "
             "('include', 'airflow', 'model_serving', 'psycopg') if importlib.util.find_spec(m) is None]}))")
    seen = run_json(sandbox, probe)
    assert seen == {"six": "1.16.0", "missing": ["include", "airflow", "model_serving", "psycopg"]}
