"""Ingress load benchmark: many tenants' ADO service hooks posting at a fixed rate, with redeliveries.

    PYTHONPATH=. .venv/bin/python bench/ingest.py --rate 200 --seconds 60

Starts its own embedded platform in a temporary folder (one API-server worker, as bench/dispatch.py does),
provisions `--tenants` tenants (`bench-t000`, `bench-t001`, ...) each with its own hook credentials and a generous
hook rate limit, then runs an open-loop load: request i is due at `i / rate` seconds whatever happened to the
earlier ones, sent by an asyncio client over a bounded connection pool (`--connections`, 64) on loopback. The
default client is a minimal keep-alive HTTP/1.1 one (`--client raw`): httpx.AsyncClient (`--client httpx`) costs
~2 ms of CPU a request, which on a 2-core machine takes a third of a core from the server being measured.
90% (1 - `--dup-fraction`) are new deliveries (a unique event id and work item per tenant), the rest exact
redeliveries (same event id and rev) of earlier ones. Work items are Closed unless `--open-fraction` says
otherwise, so by default the bench measures the ingress write path without spawning thousands of DAG runs.

Two latencies per request: service time (sent → answered, once one of the pool's connections was free) and the
coordinated-omission-corrected one (scheduled send time → answered), which also counts the time a request waited
because the sender or the server fell behind. Afterwards it checks the database: every unique delivery stored
exactly once as a ticket, no extra delivery rows, every redelivery answered 200 with the original's ticket key.
Requests refused with 503 (over the limit, or no database connection within the pool's wait) are redelivered
after the run, like ADO would (`--redeliver` passes), and counted separately. Runs are counted through Airflow's
REST API (ticket DAGs of the bench tenants), after the spawner drained the outbox when any work item was open.
It also reports where the CPU went (every process's CPU time over the load, and in seconds that stalled).
Prints a markdown table for bench/RESULTS.md; exits 1 when a ticket was lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from include.demo.tickets import demo_deliveries
from include.launcher.platform import Platform, free_port
from include.store.db import connect
from include.store.tenants import create_tenant
from include.tenancy.naming import tenant_pool

LINT_INDEX = 3  # the demo's lint work item: the smallest delivery of the four
HOOK_PATH = "/ticketpilot/hooks/ado/{tenant}"
TENANT_PREFIX = "bench-t"


def tenant_id(index: int) -> str:
    return f"{TENANT_PREFIX}{index:03d}"


def auth_header(tenant: str) -> str:
    return "Basic " + base64.b64encode(f"{tenant}-hook:{tenant}-secret".encode()).decode()


@dataclass
class Planned:
    """One scheduled request: when it is due (seconds after start), whose delivery, and its body."""

    index: int
    at: float
    tenant: str
    workitem: int
    event_id: str
    body: bytes
    open: bool
    original: int | None = None  # for a redelivery: the index of the delivery it repeats

    @property
    def ticket_key(self) -> str:
        return f"{self.tenant}-{self.workitem}"


@dataclass
class Outcome:
    status: int | str  # HTTP status, or the exception's class name
    service_ms: float  # sent → answered
    corrected_ms: float  # scheduled → answered
    lag_ms: float  # scheduled → sent (sender or connection pool behind)
    ticket_key: str | None = None
    retry_after: float = 0.0


@dataclass
class Run:
    plans: list[Planned]
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    unsent: int = 0
    started: float = 0.0
    last_scheduled: float = 0.0
    finished: float = 0.0


def plan(rate: float, seconds: float, tenants: int, dup_fraction: float, open_fraction: float,
         seed: int) -> list[Planned]:
    """The whole schedule, bodies serialised up front so the sender only sends."""
    rng = random.Random(seed)
    template = demo_deliveries()[LINT_INDEX]
    next_workitem = [1] * tenants
    plans: list[Planned] = []
    originals: list[Planned] = []
    for i in range(int(rate * seconds)):
        at = i / rate
        if originals and rng.random() < dup_fraction:
            first = rng.choice(originals)
            plans.append(Planned(i, at, first.tenant, first.workitem, first.event_id, first.body, first.open,
                                 original=first.index))
            continue
        t = i % tenants
        workitem, next_workitem[t] = next_workitem[t], next_workitem[t] + 1
        is_open = rng.random() < open_fraction
        payload: dict[str, Any] = copy.deepcopy(template)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        payload["id"] = event_id
        payload["resource"]["id"] = workitem
        payload["resource"]["fields"]["System.State"] = "New" if is_open else "Closed"
        item = Planned(i, at, tenant_id(t), workitem, event_id, json.dumps(payload).encode(), is_open)
        plans.append(item)
        originals.append(item)
    return plans


class RawClient:
    """A minimal HTTP/1.1 keep-alive client for loopback: one request per connection at a time, connections
    reused LIFO. It costs a fraction of httpx's CPU per request, which matters when the sender shares two
    cores with the server it measures. Callers bound the requests in flight (so the connections)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        url = httpx.URL(base_url)
        self._host, self._port = url.host, url.port or 80
        self._timeout = timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return await asyncio.wait_for(self._post(path, body, headers), self._timeout)

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        reader, writer = self._idle.pop() if self._idle else await asyncio.open_connection(self._host, self._port)
        try:
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{head}"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            got = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            if "content-length" not in got:
                raise httpx.RemoteProtocolError(f"answer without Content-Length: {lines[0]}")
            content = await reader.readexactly(int(got["content-length"]))
        except BaseException:
            writer.close()
            raise
        if got.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return status, got, content

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


class HttpxClient:
    def __init__(self, base_url: str, timeout_s: float, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout_s, trust_env=False)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        response = await self._client.post(path, content=body, headers=headers)
        return response.status_code, dict(response.headers), response.content

    async def aclose(self) -> None:
        await self._client.aclose()


Client = RawClient | HttpxClient


def make_client(kind: str, base_url: str, timeout_s: float, connections: int) -> Client:
    return RawClient(base_url, timeout_s) if kind == "raw" else HttpxClient(base_url, timeout_s, connections)


async def send(client: Client, item: Planned, scheduled: float) -> Outcome:
    sent = time.perf_counter()
    key = None
    retry_after = 0.0
    try:
        status_code, headers, content = await client.post(
            HOOK_PATH.format(tenant=item.tenant), item.body,
            {"Authorization": auth_header(item.tenant), "Content-Type": "application/json"})
        status: int | str = status_code
        if 200 <= status_code < 300:
            key = json.loads(content).get("ticket_key")
        retry_after = float(headers.get("retry-after", 0) or 0)
    except (TimeoutError, httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        status = type(exc).__name__
    done = time.perf_counter()
    return Outcome(status, (done - sent) * 1000, (done - scheduled) * 1000, (sent - scheduled) * 1000, key,
                   retry_after)


async def load(base_url: str, plans: list[Planned], kind: str, connections: int, timeout_s: float,
               drain_s: float) -> Run:
    """Open loop: each request is released at its due time; at most `connections` are in flight."""
    run = Run(plans)
    in_flight = asyncio.Semaphore(connections)
    client = make_client(kind, base_url, timeout_s, connections)
    try:

        async def fire(item: Planned, scheduled: float) -> None:
            async with in_flight:  # waiting here is lag, counted by the corrected latency only
                run.outcomes[item.index] = await send(client, item, scheduled)

        tasks: list[asyncio.Task[None]] = []
        run.started = time.perf_counter()
        hard_stop = run.started + (plans[-1].at if plans else 0) + drain_s
        for item in plans:
            due = run.started + item.at
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() > hard_stop:
                run.unsent = len(plans) - len(tasks)
                break
            tasks.append(asyncio.create_task(fire(item, due)))
        run.last_scheduled = time.perf_counter()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(1.0, hard_stop - time.perf_counter()))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        run.finished = max((run.started + plans[o].at + run.outcomes[o].corrected_ms / 1000
                            for o in run.outcomes), default=time.perf_counter())
    finally:
        await client.aclose()
    return run


async def redeliver(base_url: str, run: Run, kind: str, passes: int, timeout_s: float) -> dict[int, Outcome]:
    """Like ADO after a 503 or a failed connection: send again every unique delivery that no attempt got a 2xx for,
    after the Retry-After it was given. Returns the successful redeliveries by original index."""
    recovered: dict[int, Outcome] = {}
    client = make_client(kind, base_url, timeout_s, 1)
    try:
        acked = acknowledged(run)
        for _ in range(passes):
            todo = [p for p in run.plans if p.original is None and p.index not in recovered and p.index not in acked]
            if not todo:
                break
            await asyncio.sleep(min(5.0, max((run.outcomes[p.index].retry_after for p in todo
                                              if p.index in run.outcomes), default=1.0)))
            for item in todo:
                outcome = await send(client, item, time.perf_counter())
                if isinstance(outcome.status, int) and 200 <= outcome.status < 300:
                    recovered[item.index] = outcome
    finally:
        await client.aclose()
    return recovered


def acknowledged(run: Run) -> set[int]:
    """The unique deliveries (by index) that got a 2xx in the run, to themselves or to one of their redeliveries."""
    out = set()
    for i, o in run.outcomes.items():
        if isinstance(o.status, int) and 200 <= o.status < 300:
            original = run.plans[i].original
            out.add(i if original is None else original)
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def spread(values: list[float]) -> str:
    return (f"p50 {pct(values, 50):.1f} ms · p95 {pct(values, 95):.1f} ms · p99 {pct(values, 99):.1f} ms · "
            f"max {max(values, default=float('nan')):.1f} ms (n={len(values)})")


# -- where the CPU went -------------------------------------------------------------------------
def cpu_snapshot() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of every process, with a short label."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        out[int(entry.name)] = (label(int(entry.name), comm, [a.decode(errors="replace") for a in argv if a]),
                                (int(fields[11]) + int(fields[12])) / ticks)
    return out


def label(pid: int, comm: str, argv: list[str]) -> str:
    if pid == os.getpid():
        return "bench client (this process)"
    if comm.startswith("postgres") or (argv and argv[0].endswith("postgres")):
        return "postgres"
    text = " ".join(argv)
    if "include.spawner" in text:
        return "spawner"
    if "-m" in argv[:-1]:
        return f"python -m {argv[argv.index('-m') + 1]}"
    if comm.startswith("airflow") or "airflow" in text:
        return " ".join(text.replace("/", " ").split()[-3:])[:48] if "/" in text else text[:48]
    return f"{comm}: {text[:40]}" if text else comm


def cpu_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> Counter[str]:
    used: Counter[str] = Counter()
    for pid, (name, seconds) in after.items():
        used[name] += seconds - before.get(pid, (name, 0.0))[1]
    return used


class CpuSampler(threading.Thread):
    """Snapshots every process's CPU time each `interval` seconds, to see who was busy when answers stalled."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="cpu-sampler")
        self.interval = interval
        self.samples: list[tuple[float, dict[int, tuple[str, float]]]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter(), cpu_snapshot()))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def usage(self, start: float, end: float) -> Counter[str]:
        """CPU seconds by label between the samples nearest `start` and `end`."""
        inside = [s for s in self.samples if start - self.interval / 2 <= s[0] <= end + self.interval / 2]
        return cpu_delta(inside[0][1], inside[-1][1]) if len(inside) >= 2 else Counter()


def stalls(run: Run, rate: float, sampler: CpuSampler) -> tuple[list[int], Counter[str], float]:
    """Seconds of the load in which fewer than half the due requests were answered, and the CPU used in them."""
    answered: Counter[int] = Counter(int(run.plans[i].at + o.corrected_ms / 1000) for i, o in run.outcomes.items())
    seconds = int(run.last_scheduled - run.started)
    slow = [k for k in range(seconds) if answered[k] < rate / 2]
    used: Counter[str] = Counter()
    for k in slow:
        used.update(sampler.usage(run.started + k, run.started + k + 1))
    return slow, used, float(len(slow))


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# -- platform -----------------------------------------------------------------------------------
def provision_tenants(platform: Platform, count: int, rate_per_s: float, burst: int) -> None:
    with connect() as conn:
        for i in range(count):
            t = tenant_id(i)
            create_tenant(conn, t, f"{t}-hook", f"{t}-secret", "svc-0", [],
                          hook_rate_per_s=rate_per_s, hook_burst=burst)
        conn.commit()
    with platform.client() as client:
        for i in range(count):
            client.ensure_pool(tenant_pool(tenant_id(i)), 4, f"Agent steps of tenant {tenant_id(i)}")


def count_runs(platform: Platform) -> int:
    with platform.client() as client:
        body = client.request("GET", "/api/v2/dags/~/dagRuns",
                              params={"dag_id_pattern": f"ticket__{TENANT_PREFIX}%", "limit": 1}).json()
    return int(body["total_entries"])


def wait_for_outbox(timeout_s: float) -> int:
    """Wait until the spawner processed every outbox row of the bench tenants; the rows still pending."""
    deadline = time.monotonic() + timeout_s
    with connect(autocommit=True) as conn:
        while True:
            pending = conn.execute("SELECT count(*) AS n FROM ticketpilot.outbox WHERE ticket_key LIKE %s "
                                   "AND processed_at IS NULL", (f"{TENANT_PREFIX}%",)).fetchone()["n"]
            if pending == 0 or time.monotonic() > deadline:
                return int(pending)
            time.sleep(1.0)


@dataclass
class Stored:
    tickets: set[str]
    ticket_rows_dup: int  # (tenant, work item) pairs with more than one ticket row
    deliveries: int
    outbox: Counter[str]


def stored() -> Stored:
    like = (f"{TENANT_PREFIX}%",)
    with connect(autocommit=True) as conn:
        tickets = {r["ticket_key"] for r in conn.execute(
            "SELECT ticket_key FROM ticketpilot.tickets WHERE tenant_id LIKE %s", like)}
        dup = conn.execute("SELECT count(*) AS n FROM (SELECT 1 FROM ticketpilot.tickets WHERE tenant_id LIKE %s "
                           "GROUP BY tenant_id, workitem_id HAVING count(*) > 1) d", like).fetchone()["n"]
        deliveries = conn.execute("SELECT count(*) AS n FROM ticketpilot.deliveries WHERE tenant_id LIKE %s",
                                  like).fetchone()["n"]
        outbox = Counter({r["kind"]: r["n"] for r in conn.execute(
            "SELECT kind, count(*) AS n FROM ticketpilot.outbox WHERE ticket_key LIKE %s GROUP BY kind", like)})
    return Stored(tickets, int(dup), int(deliveries), outbox)


def log_findings(path: Path, limit: int = 8) -> tuple[int, list[str]]:
    """Lines of the API-server log that look like trouble: (count, the first `limit`)."""
    if not path.exists():
        return 0, []
    marks = ("ERROR", "Traceback", "PoolTimeout", "timeout", "exhausted", "Exception")
    hits = [line.strip() for line in path.read_text(errors="replace").splitlines()
            if any(m in line for m in marks)]
    return len(hits), hits[:limit]


# -- report -------------------------------------------------------------------------------------
def report(args: argparse.Namespace, run: Run, recovered: dict[int, Outcome], found: Stored, runs: int | None,
           outbox_pending: int, cpu: Counter[str], busy_share: float, window_s: float,
           log_hits: tuple[int, list[str]], stalled: tuple[list[int], Counter[str], float], api_port: int) -> int:
    plans = run.plans
    originals = [p for p in plans if p.original is None]
    redeliveries = [p for p in plans if p.original is not None]
    expected = {p.ticket_key for p in originals}
    outcomes = run.outcomes
    ok = {i: o for i, o in outcomes.items() if isinstance(o.status, int) and 200 <= o.status < 300}
    statuses = Counter(str(o.status) for o in outcomes.values())
    sent_window = run.last_scheduled - run.started
    span = run.finished - run.started

    # Per unique delivery: how many of its attempts (original + redeliveries) were accepted as new (202).
    accepted_new: Counter[int] = Counter()
    wrong_key = 0
    for i, o in ok.items():
        p = plans[i]
        root = p.original if p.original is not None else p.index
        if o.status == 202:
            accepted_new[root] += 1
        if o.ticket_key != p.ticket_key:
            wrong_key += 1
    for i, o in recovered.items():
        if o.status == 202:
            accepted_new[i] += 1
        if o.ticket_key != plans[i].ticket_key:
            wrong_key += 1
    double_accepted = sum(1 for n in accepted_new.values() if n > 1)
    # A redelivery sent while its original was still in flight can win the race: it is answered 202, the
    # original 200. Still exactly one acceptance per delivery, which is what matters.
    overtook = sum(1 for p in redeliveries if p.index in ok and ok[p.index].status == 202)
    dups_answered = [ok[p.index] for p in redeliveries if p.index in ok]
    dups_200_same = sum(1 for p in redeliveries if p.index in ok and ok[p.index].status == 200
                        and ok[p.index].ticket_key == p.ticket_key)
    acked = acknowledged(run)
    unacked = [p for p in originals if p.index not in acked]
    lost_keys = expected - found.tickets
    lost_acked = sum(1 for p in originals if p.ticket_key in lost_keys and (p.index in acked or p.index in recovered))
    extra_rows = max(0, found.deliveries - len(originals))
    duplicated = found.ticket_rows_dup + extra_rows + double_accepted + len(found.tickets - expected)
    lost = len(lost_keys)
    opened = sum(1 for p in originals if p.open)

    print("\n| figure | result |\n|---|---|")
    print(f"| load | {args.tenants} tenants · {len(plans)} requests scheduled at {args.rate:g}/s for "
          f"{args.seconds:g} s · {len(originals)} unique + {len(redeliveries)} redeliveries "
          f"({len(redeliveries) / max(1, len(plans)):.1%}) · {opened} open work items · pool {args.connections} |")
    print(f"| rate achieved | offered {len(outcomes) / max(sent_window, 1e-9):.1f}/s over {sent_window:.1f} s · "
          f"answered 2xx {len(ok) / max(span, 1e-9):.1f}/s (last answer at {span:.1f} s) · unsent {run.unsent} · "
          f"unanswered {len(plans) - run.unsent - len(outcomes)} |")
    print(f"| latency, service (sent → answered), 2xx | {spread([o.service_ms for o in ok.values()])} |")
    print(f"| latency, corrected (scheduled → answered), 2xx | {spread([o.corrected_ms for o in ok.values()])} |")
    print(f"| latency, corrected, all answers | {spread([o.corrected_ms for o in outcomes.values()])} |")
    print(f"| send lag (scheduled → sent) | {spread([o.lag_ms for o in outcomes.values()])} |")
    print(f"| status codes | {' · '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))} |")
    print(f"| redeliveries answered 200 with the original's ticket key | {dups_200_same} / {len(redeliveries)} "
          f"(answered 2xx: {len(dups_answered)}; {overtook} overtook their in-flight original: 202 for the "
          "redelivery, 200 for the original) |")
    groups = len({p.original for p in redeliveries})
    print(f"| deliveries with redeliveries: exactly one 202 among all attempts | "
          f"{sum(1 for p in {q.original for q in redeliveries} if accepted_new[p] == 1)} / {groups} |")
    print(f"| unique deliveries not acknowledged in the run → redelivered after it | {len(unacked)} → "
          f"{len(recovered)} acknowledged on redelivery |")
    print(f"| tickets stored / unique deliveries sent | {len(found.tickets & expected)} / {len(expected)} |")
    print(f"| delivery (dedupe) rows / unique deliveries | {found.deliveries} / {len(originals)} |")
    print(f"| outbox rows | {sum(found.outbox.values())} "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(found.outbox.items())) or 'none'}; expected {opened} spawn"
          f"{f'; {outbox_pending} still pending' if outbox_pending else ''}) |")
    print(f"| runs created (ticket DAGs of bench tenants) | {'not counted' if runs is None else runs} |")
    print(f"| **lost** tickets (unique sent − stored) | **{lost}** (of them acknowledged 2xx: {lost_acked}) |")
    print(f"| **duplicated** (ticket rows per work item > 1, extra delivery rows, deliveries accepted twice, "
          f"unexpected tickets) | **{duplicated}** ({found.ticket_rows_dup}, {extra_rows}, {double_accepted}, "
          f"{len(found.tickets - expected)}) |")
    print(f"| answers naming another ticket key | {wrong_key} |")
    top = " · ".join(f"{name} {seconds:.1f} s ({seconds / window_s:.0%} of a CPU)"
                     for name, seconds in cpu.most_common(8) if seconds >= 0.05)
    print(f"| CPU during the load ({window_s:.0f} s, machine {busy_share:.0%} busy of {os.cpu_count()} CPUs) "
          f"| {top} |")
    slow, slow_cpu, slow_s = stalled
    if slow:
        who = " · ".join(f"{name} {sec:.1f} s ({sec / slow_s:.0%} of a CPU)"
                         for name, sec in slow_cpu.most_common(6) if sec >= 0.05)
        print(f"| stalls: seconds with under half the rate answered | {len(slow)} (at s {', '.join(map(str, slow))}); "
              f"CPU in those seconds: {who} |")
    else:
        print("| stalls: seconds with under half the rate answered | none |")
    print(f"| API-server log lines looking like trouble | {log_hits[0]} (bench API server: port {api_port}) |")
    for line in log_hits[1]:
        print(f"    {line[:300]}", file=sys.stderr)
    return 1 if lost or duplicated or wrong_key else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, all tenants together")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--dup-fraction", type=float, default=0.10, help="share of requests that are redeliveries")
    parser.add_argument("--open-fraction", type=float, default=0.0,
                        help="share of new work items that are open (each spawns a run); the rest are Closed")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="raw: a minimal keep-alive HTTP/1.1 client (least CPU); httpx: httpx.AsyncClient")
    parser.add_argument("--connections", type=int, default=64, help="client connection pool (max in flight)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds after the last due time to wait for answers")
    parser.add_argument("--redeliver", type=int, default=3, help="redelivery passes for unacknowledged deliveries")
    parser.add_argument("--tenant-rate", type=float, default=1000.0, help="each tenant's hook rate limit, per second")
    parser.add_argument("--tenant-burst", type=int, default=1000, help="each tenant's hook burst")
    parser.add_argument("--runs-timeout", type=float, default=300.0,
                        help="with open work items: seconds to wait for the spawner before counting runs")
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds to let the freshly started platform settle before the load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--csv", help="write one row per request to this file")
    parser.add_argument("--keep", action="store_true", help="keep the platform's folder (logs) afterwards")
    args = parser.parse_args()

    plans = plan(args.rate, args.seconds, args.tenants, args.dup_fraction, args.open_fraction, args.seed)
    home = Path(tempfile.mkdtemp(prefix="tp-bench-ingest-"))
    platform = Platform(home=home, api_port=free_port())
    try:
        platform.up()
        platform.wait_for_factory()
        provision_tenants(platform, args.tenants, args.tenant_rate, args.tenant_burst)
        # Warm-up without storing anything: an authenticated empty body per tenant (422) opens the ingress pool
        # and caches every tenant row.
        with httpx.Client(base_url=platform.api_url, timeout=10, trust_env=False) as http:
            for i in range(args.tenants):
                http.post(HOOK_PATH.format(tenant=tenant_id(i)), content=b"{}",
                          headers={"Authorization": auth_header(tenant_id(i))})
        time.sleep(args.settle)
        api_log = platform.paths.logs / "api-server.log"
        log_offset = api_log.stat().st_size if api_log.exists() else 0

        sampler = CpuSampler()
        sampler.start()
        cpu_before, busy_before = cpu_snapshot(), machine_busy()
        wall = time.perf_counter()
        run = asyncio.run(load(platform.api_url, plans, args.client, args.connections, args.timeout, args.drain))
        window_s = time.perf_counter() - wall
        cpu, busy_after = cpu_delta(cpu_before, cpu_snapshot()), machine_busy()
        busy_share = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
        sampler.stop()
        stalled = stalls(run, args.rate, sampler)
        if args.csv:
            write_csv(Path(args.csv), run)

        recovered = asyncio.run(redeliver(platform.api_url, run, args.client, args.redeliver, args.timeout))
        opened = any(p.open for p in plans)
        pending = wait_for_outbox(args.runs_timeout) if opened else 0
        if opened:
            time.sleep(5)  # the spawner marks a row processed once the trigger call returned
        runs = count_runs(platform)
        found = stored()
        trouble = _log_since(api_log, log_offset, home)
        return report(args, run, recovered, found, runs, pending, cpu, busy_share, window_s, trouble, stalled,
                      platform.api_port)
    finally:
        platform.down()
        if args.keep:
            print(f"platform folder kept: {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)


def write_csv(path: Path, run: Run) -> None:
    """One row per request: due time, kind, status, and the three latencies, for plotting."""
    with path.open("w") as out:
        out.write("index,due_s,tenant,workitem,redelivery,status,lag_ms,service_ms,corrected_ms\n")
        for p in run.plans:
            o = run.outcomes.get(p.index)
            cells = ("", "", "", "") if o is None else (o.status, f"{o.lag_ms:.3f}", f"{o.service_ms:.3f}",
                                                         f"{o.corrected_ms:.3f}")
            out.write(f"{p.index},{p.at:.4f},{p.tenant},{p.workitem},{int(p.original is not None)},"
                      + ",".join(map(str, cells)) + "\n")


def _log_since(path: Path, offset: int, home: Path) -> tuple[int, list[str]]:
    if not path.exists():
        return 0, []
    tail = home / "api-server.bench.log"
    with path.open("rb") as src:
        src.seek(offset)
        tail.write_bytes(src.read())
    return log_findings(tail)


if __name__ == "__main__":
    sys.exit(main())
