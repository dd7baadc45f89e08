"""Policy evaluation benchmark: what one Rego decision costs, in-process with regopy.

    PYTHONPATH=. .venv/bin/python bench/policy_eval.py --decisions 2000

Measures the engine's compile (module load and bundle build, once per process) and, per decision, the door
(`classify`: a ticket's title, description, tags and type against the floors; the kind reading in Python
excluded) and the diff (`escalate_for_diff`: 3, 20 and 200 changed paths against the path rules), on a mix of
inputs that meet no rule and inputs that meet several. Prints a markdown table for bench/RESULTS.md.
Target: p95 under 5 ms per decision.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.engine import PolicyEngine, platform_modules
from include.policies.risk import diff_decision

TITLES = ["Fix the rounding of the invoice total", "Rotate the leaked storage credentials",
          "Bump requests to 2.32.3", "Die Anmeldung mit SSO schlägt in Produktion fehl", "Explain setup in the README",
          "Add CSV export to reports"]
DESCRIPTION = ("When the cart holds items in two currencies the footer shows the sum of the raw amounts. Expected: "
               "each amount converted at the day's rate before adding. Steps: add one EUR and one USD item. ") * 4
TAGS = [[], ["bug"], ["security"], ["risk:R2", "frontend"], ["major"]]


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {p(0.50):.3f} ms · p95 {p(0.95):.3f} ms · max {ordered[-1] * 1000:.3f} ms (n={len(ordered)})"


def timed(n: int, call: Callable[[int], object]) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    return samples


def paths(count: int, rng: random.Random) -> list[str]:
    plain = [f"src/pkg{i % 7}/module_{i}.py" for i in range(count)]
    sensitive = ["config/secrets.yaml", "src/auth/session.py", "infra/main.tf", ".github/workflows/ci.yml"]
    return [rng.choice(sensitive) if rng.random() < 0.1 else p for p in plain]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)

    started = time.perf_counter()
    engine = PolicyEngine(platform_modules())
    compile_s = time.perf_counter() - started

    def door(i: int) -> None:
        engine.decide("door", {"planned": "R0", "text": f"{TITLES[i % len(TITLES)]}\n{DESCRIPTION}".lower(),
                               "tags": TAGS[i % len(TAGS)], "work_item_type": "task"})

    rows = [("compile the modules and build the bundles (once per process)", f"{compile_s * 1000:.1f} ms", "—"),
            ("door: a ticket (title, 800-character description, tags, type)",
             percentiles(timed(args.decisions, door)), "p95 < 5 ms")]
    for count in (3, 20, 200):
        inputs = [paths(count, rng) for _ in range(50)]
        samples = timed(args.decisions, lambda i, inputs=inputs: diff_decision(
            RiskClass.R1, inputs[i % 50], 40, 1, kind=ChangeKind.FEATURE))
        rows.append((f"diff: {count} changed paths", percentiles(samples), "p95 < 5 ms" if count <= 20 else "—"))
    print("| decision | result | target |\n|---|---|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |")
    print(f"\nmedian of the door over all: {statistics.median(timed(200, door)) * 1000:.3f} ms")


if __name__ == "__main__":
    main()
