"""Start, watch and stop the platform's processes. Each runs in its own session (process group) with its
log under the state folder, so one can be killed and restarted alone (the crash tests do exactly that)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from include.settings import REPO_ROOT

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def command_for(name: str) -> list[str]:
    if name in AIRFLOW_COMPONENTS:
        return [airflow_bin(), name]
    if name == "spawner":
        return [sys.executable, "-m", "include.spawner"]
    raise ValueError(f"unknown component {name!r}")


@dataclass
class Supervisor:
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def run_once(self, args: list[str], name: str, timeout: float = 600) -> None:
        """Run a one-shot command (e.g. `airflow db migrate`); fail with its log tail."""
        log_path = self.log_dir / f"{name}.log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            result = subprocess.run(args, env=self.env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                    cwd=REPO_ROOT, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}); see {log_path}:\n"
                               + _tail(log_path))

    def start(self, name: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(command_for(name), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=REPO_ROOT, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def adopt(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        """Watch and stop a process started elsewhere (in its own session, logging to `<log_dir>/<name>.log`)."""
        self.procs[name] = proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one component's whole process group (the crash tests use SIGKILL)."""
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / name}.log:\n"
                                   + _tail(self.log_dir / f"{name}.log"))

    def wait_http(self, url: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")

    def stop_all(self, timeout: float = 30) -> None:
        """SIGTERM every group, then SIGKILL what is left after `timeout`."""
        for proc in self.procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
