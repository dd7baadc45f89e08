"""The local runner: the same entrypoint, env and result file as the pod, as a child process.

The KubernetesPodOperator's XCom sidecar reads `/airflow/xcom/return.json`; here the agent writes to a
per-try temporary path given in `TICKETPILOT_XCOM_PATH`, and we read it back the same way.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from include.contracts import parse_result
from include.settings import REPO_ROOT

TASK_CHILD_ENV = {"PYTHON_OPERATORS_VIRTUAL_ENV_MODE": "1"}
"""The agent is task code in a child process, as under PythonVirtualenvOperator: importing Airflow there (the
ado adapter reads its connection through the Task SDK's BaseHook) must not configure the ORM, because the task
process blocks database access with a fake `sql_alchemy_conn` that the child inherits. Airflow's own
virtualenv operator sets this variable for the same reason; connections then resolve from `AIRFLOW_CONN_*`."""

EXIT_OK = 0
EXIT_RESULT_NOT_OK = 2
"""An agent that finished its work and reports a negative outcome (red tests, blocking review)."""
EXIT_REFUSED = 3
"""An agent that refused with a known error (bad input, needs a model): the same input fails the same way."""


class AgentProcessError(RuntimeError):
    """The agent crashed, timed out or broke the result contract: worth a retry."""


class AgentReportedFailure(RuntimeError):
    """The agent ran to the end and said no: retrying the same input will not change the answer."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


def run_agent(
    role: str,
    task_json: str,
    *,
    env: dict[str, str] | None = None,
    timeout_s: float | None = None,
    log: logging.Logger | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> dict[str, Any]:
    """Run `python -m include.agents <role>` and return its validated result as a JSON-able dict."""
    log = log or logging.getLogger(__name__)
    with tempfile.TemporaryDirectory(prefix=f"tp-agent-{role}-") as tmp:
        xcom_path = Path(tmp) / "airflow" / "xcom" / "return.json"
        child_env = {**(env if env is not None else os.environ), "TICKETPILOT_AGENT_TASK": task_json,
                     "TICKETPILOT_XCOM_PATH": str(xcom_path), "TICKETPILOT_PARENT_PID": str(os.getpid()),
                     **TASK_CHILD_ENV}
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), child_env.get("PYTHONPATH", "")]))
        proc = subprocess.Popen(
            [sys.executable, "-m", "include.agents", role], env=child_env, cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        if on_start is not None:
            on_start(proc)
        tail: deque[str] = deque(maxlen=30)
        reader = threading.Thread(target=_pump, args=(proc, tail, log, role), daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise AgentProcessError(f"agent {role!r} did not finish within {timeout_s:.0f}s and was killed") from None
        finally:
            reader.join(timeout=5)
        return _read_result(role, code, xcom_path, "\n".join(tail))


def _read_result(role: str, code: int, xcom_path: Path, tail: str) -> dict[str, Any]:
    if code == EXIT_REFUSED:
        raise AgentReportedFailure(f"agent {role!r} refused: {tail.splitlines()[-1] if tail else 'no message'}")
    if code not in (EXIT_OK, EXIT_RESULT_NOT_OK):
        raise AgentProcessError(f"agent {role!r} exited with {code}:\n{tail}")
    if not xcom_path.exists():
        raise AgentProcessError(f"agent {role!r} exited with {code} but wrote no result to {xcom_path}:\n{tail}")
    try:
        result = parse_result(xcom_path.read_text())
    except ValueError as exc:  # pydantic.ValidationError and JSON errors
        raise AgentProcessError(f"agent {role!r} broke the result contract: {exc}") from exc
    data: dict[str, Any] = json.loads(result.model_dump_json())
    if code == EXIT_RESULT_NOT_OK or not result.ok:
        raise AgentReportedFailure(f"agent {role!r}: {result.summary}", data)
    return data


def _pump(proc: subprocess.Popen[str], tail: deque[str], log: logging.Logger, role: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        tail.append(line)
        log.info("[%s] %s", role, line)


def kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
