"""Router benchmark: what `ModelRouter.chat` adds to a model call, with the provider's own time taken out.

    PYTHONPATH=. .venv/bin/python bench/router.py --calls 300

Starts an embedded PostgreSQL (pgserver) in a temporary folder and the LLM emulator (an OpenAI-compatible
server, in a child process so it does not compete for this one's GIL), then measures per call: router wall
time minus the time inside the provider's `respond` (pydantic-ai's model over the `openai` SDK, and the HTTP
round trip), for a cache miss (lookup,
admission, ledger row, cache store) and with the cache off, and the whole call for a cache hit. Prints a
markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pgserver
import psycopg
from pydantic_ai.messages import ModelResponse

from include.settings import REPO_ROOT
from include.store.db import migrate
from model_serving.router import CallContext, ChatMessage, ChatRequest, ModelRouter, RoutingPolicy

MODEL = "vllm:bench"
_EMULATOR = ("import sys\nfrom tests.emulators.llm.emulator import EmulatorServer\n"
             "with EmulatorServer('openai') as emulator:\n    print(emulator.url, flush=True)\n    sys.stdin.read()\n")
"""Serves the emulator until the parent closes its stdin."""
TARGET_P95_MS = 5.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 50):.2f} ms · p95 {pct(values, 95):.2f} ms · max {max(values):.2f} ms (n={len(values)})"


class TimedProvider:
    """Wraps a provider's `respond` and keeps the duration of the last call."""

    def __init__(self, respond: Callable[..., ModelResponse]) -> None:
        self._respond = respond
        self.last_ms = 0.0

    def __call__(self, *args: Any) -> ModelResponse:
        started = time.perf_counter()
        try:
            return self._respond(*args)
        finally:
            self.last_ms = (time.perf_counter() - started) * 1000


def request(text: str) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="system", content="You summarise tickets."),
                                 ChatMessage(role="user", content=text)], max_tokens=64)


def measure(router: ModelRouter, timer: TimedProvider, tenant: str, texts: list[str]) -> tuple[list[float], ...]:
    """(router overhead, provider time, whole call) per call, in ms."""
    overhead, provider, whole = [], [], []
    for i, text in enumerate(texts):
        context = CallContext(tenant=tenant, repo="svc", ticket_key=f"{tenant}-{i}", step="bench",
                              prompt_version="bench.v1")
        timer.last_ms = 0.0
        started = time.perf_counter()
        response = router.chat(request(text), context)
        elapsed = (time.perf_counter() - started) * 1000
        inside = 0.0 if response.cache_hit else timer.last_ms
        overhead.append(elapsed - inside)
        provider.append(inside)
        whole.append(elapsed)
    return overhead, provider, whole


def run(db_url: str, emulator_url: str, calls: int) -> list[tuple[str, str, str]]:
    env = {"VLLM_BASE_URL": emulator_url}
    tenant_cached, tenant_plain = f"b{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    policies = {tenant_cached: RoutingPolicy(default_model=MODEL, large_model=MODEL),
                tenant_plain: RoutingPolicy(default_model=MODEL, large_model=MODEL, cache=False)}
    with ModelRouter(policies, db_url=db_url, env=env, pool_size=2) as router:
        provider = router.provider(MODEL)
        timer = TimedProvider(provider.respond)
        provider.respond = timer  # type: ignore[method-assign]
        warm = [f"warm-up {i}" for i in range(20)]
        measure(router, timer, tenant_cached, warm)
        measure(router, timer, tenant_plain, warm)
        texts = [f"ticket {i}: {uuid.uuid4().hex}" for i in range(calls)]
        miss, provider_ms, _ = measure(router, timer, tenant_cached, texts)
        _, _, hit = measure(router, timer, tenant_cached, texts)
        plain, _, _ = measure(router, timer, tenant_plain, [f"plain {t}" for t in texts])
    verdict = "met" if pct(miss, 95) < TARGET_P95_MS and pct(plain, 95) < TARGET_P95_MS else "MISSED"
    return [
        ("router overhead, cache miss (admission, ledger row, cache lookup and store)", summary(miss),
         f"p95 < {TARGET_P95_MS:g} ms ({verdict})"),
        ("router overhead, cache off (admission, ledger row)", summary(plain), f"p95 < {TARGET_P95_MS:g} ms"),
        ("cache hit, whole call (no provider)", summary(hit), "—"),
        ("provider time excluded above (pydantic-ai + openai SDK + emulator HTTP round trip)", summary(provider_ms),
         "—"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tp-bench-router-"))
    server = pgserver.get_server(root / "data", cleanup_mode="stop")
    try:
        db_url = server.get_uri("bench")
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "bench"')
        migrate(db_url)
        with subprocess.Popen([sys.executable, "-c", _EMULATOR], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) as emulator:
            assert emulator.stdout is not None and emulator.stdin is not None
            rows = run(db_url, emulator.stdout.readline().strip(), args.calls)
            emulator.stdin.close()
        print("\n| figure | result | target |\n|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    finally:
        server._cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
