from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.launcher import processes
from include.launcher.processes import Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]


@pytest.fixture
def supervisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Supervisor]:
    monkeypatch.setattr(processes, "RESTART_FIRST_S", 0.2)
    running = Supervisor(env=dict(os.environ), log_dir=tmp_path / "logs")
    yield running
    running.stop_all(timeout=5)


def wait_until(condition: object, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def test_a_killed_component_is_restarted_and_counted(supervisor: Supervisor) -> None:
    first = supervisor.start("spawner", SLEEPER)
    supervisor.start("scheduler", SLEEPER)
    supervisor.start_watchdog(interval_s=0.05)
    os.killpg(first.pid, signal.SIGKILL)  # from outside, as a crash or the OOM killer would
    wait_until(lambda: supervisor.procs["spawner"].pid != first.pid)
    assert supervisor.procs["spawner"].poll() is None, "the restarted component runs"
    assert supervisor.restarts["spawner"].count == 1
    assert supervisor.restarts["scheduler"].count == 0
    assert supervisor.status_line() == "components: spawner up, 1 restart(s); scheduler up"
    supervisor.check_alive()  # supervised: never raises, whatever state a component is in


def test_a_crash_looping_component_backs_off(supervisor: Supervisor) -> None:
    supervisor.start("triggerer", CRASHER)
    supervisor.start_watchdog(interval_s=0.02)
    wait_until(lambda: supervisor.restarts["triggerer"].count >= 3)
    state = supervisor.restarts["triggerer"]
    assert state.delay_s >= 0.2 * 2 ** 3, "each restart doubles the wait before the next"
    assert "restart(s)" in supervisor.status_line()


def test_before_the_watchdog_a_dead_component_fails_the_start(supervisor: Supervisor) -> None:
    supervisor.start("dag-processor", CRASHER).wait(timeout=10)
    with pytest.raises(RuntimeError, match="dag-processor exited with 3"):
        supervisor.check_alive()


def test_a_component_killed_on_purpose_is_left_alone(supervisor: Supervisor) -> None:
    supervisor.start("scheduler", SLEEPER)
    supervisor.start_watchdog(interval_s=0.02)
    supervisor.kill("scheduler")
    time.sleep(0.5)
    assert "scheduler" not in supervisor.procs, "kill() hands the component to its caller (the crash tests)"
