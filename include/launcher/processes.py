"""Start, watch and stop the platform's processes. Each runs in its own session (process group) with its
log under the state folder, so one can be killed and restarted alone (the crash tests do exactly that).

Once the platform is up, a watchdog thread restarts any component that exits, with doubling backoff (1 s up
to 60 s, back to 1 s after a minute of good health), and logs each exit and restart: one crashed component
never takes the platform down. During start-up a dead component fails the start instead, with its log tail.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from include.settings import REPO_ROOT

log = logging.getLogger("ticketpilot.launcher")

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 60.0
HEALTHY_AFTER_S = 60.0
"""A component that ran this long before exiting gets its next restart after RESTART_FIRST_S again."""


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def command_for(name: str) -> list[str]:
    if name in AIRFLOW_COMPONENTS:
        return [airflow_bin(), name]
    if name == "spawner":
        return [sys.executable, "-m", "include.spawner"]
    raise ValueError(f"unknown component {name!r}")


@dataclass
class _Restarts:
    count: int = 0
    delay_s: float = RESTART_FIRST_S
    started_at: float = field(default_factory=time.monotonic)
    due_at: float | None = None  # set while the component is dead, waiting for its restart


@dataclass
class Supervisor:
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starters: dict[str, Callable[[], subprocess.Popen[bytes]]] = field(default_factory=dict)
    restarts: dict[str, _Restarts] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _watchdog: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def run_once(self, args: list[str], name: str, timeout: float = 600) -> None:
        """Run a one-shot command (e.g. `airflow db migrate`); fail with its log tail."""
        log_path = self.log_dir / f"{name}.log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log_file:
            result = subprocess.run(args, env=self.env, stdout=log_file, stderr=subprocess.STDOUT, timeout=timeout,
                                    cwd=REPO_ROOT, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}); see {log_path}:\n"
                               + _tail(log_path))

    def start(self, name: str, command: list[str] | None = None) -> subprocess.Popen[bytes]:
        """Start a component (a platform one by name, or `command`); the watchdog restarts it the same way."""
        args = command or command_for(name)

        def spawn() -> subprocess.Popen[bytes]:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with (self.log_dir / f"{name}.log").open("ab") as log_file:
                return subprocess.Popen(args, env={**self.env, "TICKETPILOT_COMPONENT": name}, stdout=log_file,
                                        stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)

        return self.adopt(name, spawn(), restart=spawn)

    def adopt(self, name: str, proc: subprocess.Popen[bytes],
              restart: Callable[[], subprocess.Popen[bytes]] | None = None) -> subprocess.Popen[bytes]:
        """Watch and stop a process started elsewhere (in its own session, logging to `<log_dir>/<name>.log`);
        with `restart`, the watchdog calls it to bring the component back."""
        with self._lock:
            self.procs[name] = proc
            if restart is not None:
                self.starters[name] = restart
            self.restarts.setdefault(name, _Restarts()).started_at = time.monotonic()
            self.restarts[name].due_at = None
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one component's whole process group, unsupervised from then on (the crash tests use SIGKILL and
        start it again themselves)."""
        with self._lock:
            proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def check_alive(self) -> None:
        """Before the watchdog runs (start-up), a dead component fails the caller with its log tail."""
        if self._watchdog is not None:
            return
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / name}.log:\n"
                                   + _tail(self.log_dir / f"{name}.log"))

    def supervise(self) -> list[str]:
        """One watchdog pass: note components that exited, restart those whose backoff has passed. Returns the
        names restarted."""
        restarted = []
        now = time.monotonic()
        with self._lock:
            for name, proc in list(self.procs.items()):
                if proc.poll() is None or name not in self.starters:
                    continue
                state = self.restarts[name]
                if state.due_at is None:
                    if now - state.started_at >= HEALTHY_AFTER_S:
                        state.delay_s = RESTART_FIRST_S
                    state.due_at = now + state.delay_s
                    log.warning("%s exited with %s; restarting it in %.0fs (see %s)", name, proc.returncode,
                                state.delay_s, self.log_dir / f"{name}.log")
                    continue
                if now < state.due_at:
                    continue
                try:
                    self.procs[name] = self.starters[name]()
                except OSError as exc:
                    log.error("restarting %s failed: %s", name, exc)
                    state.due_at = now + state.delay_s
                    continue
                state.count += 1
                state.started_at, state.due_at = now, None
                state.delay_s = min(state.delay_s * 2, RESTART_MAX_S)
                restarted.append(name)
                log.warning("%s restarted (restart %d)", name, state.count)
        return restarted

    def status_line(self) -> str:
        """One line for the operator: every component, up or waiting for its restart, with its restarts."""
        parts = []
        with self._lock:
            for name, proc in self.procs.items():
                state = self.restarts.get(name, _Restarts())
                what = "up" if proc.poll() is None else f"down (exit {proc.returncode})"
                parts.append(f"{name} {what}" + (f", {state.count} restart(s)" if state.count else ""))
        return "components: " + "; ".join(parts)

    def start_watchdog(self, interval_s: float = 1.0) -> None:
        """Supervise from a daemon thread until `stop_all`."""
        if self._watchdog is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.supervise()
                except Exception:  # the watchdog must outlive any one failure
                    log.exception("watchdog pass failed")

        self._watchdog = threading.Thread(target=loop, name="ticketpilot-watchdog", daemon=True)
        self._watchdog.start()

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
        """Stop the watchdog, then SIGTERM every group, then SIGKILL what is left after `timeout`."""
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=10)
            self._watchdog = None
        with self._lock:
            procs = list(self.procs.values())
            self.procs.clear()
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)


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
