"""Sandbox start-up cost per step: the cold build of a repository venv (the demo repository's pins), the cached
lookup, and a cached venv plus the sandbox's start of `python -c pass`, against the same command run bare.

    PYTHONPATH=. .venv/bin/python bench/sandbox.py --runs 20

Builds its venvs in a temporary TICKETPILOT_HOME (so the cold build really is cold) and prints a markdown
table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from include.demo.repo import demo_repo_files
from include.sandbox import Sandbox, repo_venv
from include.sandbox.isolation import available


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(action: Callable[[], object], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def row(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {pct(ms, 95):.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-bench-sandbox-") as tmp:
        os.environ["TICKETPILOT_HOME"] = str(Path(tmp) / "home")
        repo = Path(tmp) / "repo"
        for path, content in demo_repo_files().items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(content, encoding="utf-8")
        [cold] = timed(lambda: repo_venv(repo), 1)
        lookup = timed(lambda: repo_venv(repo), args.runs)
        sandbox = Sandbox.for_workdir(repo)
        start = timed(lambda: sandbox.run([sandbox.python, "-c", "pass"]), args.runs)
        step = timed(lambda: (lambda s: s.run([s.python, "-c", "pass"]))(Sandbox.for_workdir(repo)), args.runs)
        bare = timed(lambda: subprocess.run([sandbox.python, "-c", "pass"], check=True), args.runs)
        tests = timed(lambda: sandbox.run([sandbox.python, "-m", "pytest", "-q"]), min(args.runs, 5))
    print(f"isolation: {available().value}; repository: the demo's invoicing-service (requests==2.31.0 + pytest)\n")
    print("| what | runs | p50 ms | p95 ms |\n|---|---|---|---|")
    print(f"| cold venv build (requests 2.31.0, pytest) | 1 | {cold * 1000:.0f} | {cold * 1000:.0f} |")
    for name, seconds in (("cached venv lookup (hash of the declarations)", lookup),
                          ("sandboxed `python -c pass`, venv at hand", start),
                          ("per step: cached venv lookup + sandboxed `python -c pass`", step),
                          ("the same `python -c pass` without a sandbox", bare),
                          ("sandboxed `python -m pytest -q` (5 tests)", tests)):
        print(row(name, seconds))


if __name__ == "__main__":
    main()
