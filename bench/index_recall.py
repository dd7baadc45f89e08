"""Recall@10 of the code index on labelled queries over the real-project fixtures, and its build time.

    python bench/index_recall.py                       # the database of TICKETPILOT_DB_URL (or --db-url)
    python bench/index_recall.py --embedded            # a throwaway embedded pgserver (it ships pgvector)
    python bench/index_recall.py --embedded --embedder e5 --extra-repo .

Builds prettytable, freezegun and bleach from their sdists (include/demo/real_projects.py), indexes each under a
throwaway tenant, and runs bench/index_recall.yaml: a query counts as found when its labelled file is among the
files of the top 10 hits (by symbol: the labelled symbol is among them). Full-text, vector and fused rankings are
scored separately. Build time is wall time of `index_repository` from nothing, per 1,000 indexed files;
`--extra-repo` adds a larger repository to that figure only. The throwaway tenant's schema is dropped at the end."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from include.demo.real_projects import build  # noqa: E402
from include.index import index_repository, search  # noqa: E402
from include.index.embedders import EMBEDDERS, Embedder, embedder_from  # noqa: E402
from include.index.models import IndexStats  # noqa: E402
from include.index.store import schema_for  # noqa: E402
from include.settings import get_settings  # noqa: E402

QUERIES = Path(__file__).with_suffix(".yaml")
K = 10
MODES = ("fts", "vector", "fused")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db-url", help="PostgreSQL URL (default: TICKETPILOT_DB_URL)")
    parser.add_argument("--embedded", action="store_true", help="start a throwaway pgserver instead")
    parser.add_argument("--embedder", choices=EMBEDDERS, default="hashed")
    parser.add_argument("--embeddings-model")
    parser.add_argument("--extra-repo", type=Path, action="append", default=[],
                        help="another git repository to index for the build-time figure (repeatable)")
    parser.add_argument("--misses", action="store_true", help="list the queries each ranking missed")
    args = parser.parse_args(argv)
    queries = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))["queries"]
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tp-index-bench-")))
        url = _embedded(stack, work) if args.embedded else (args.db_url or get_settings().require_db())
        conn = stack.enter_context(psycopg.connect(url, autocommit=True))
        os.environ["TICKETPILOT_DB_URL"] = url  # the router embedder's ledger lives there too
        get_settings.cache_clear()
        embedder = embedder_from(args.embedder, tenant, args.embeddings_model)
        stack.callback(lambda: conn.execute(f'DROP SCHEMA IF EXISTS "{schema_for(tenant)}" CASCADE'))
        projects = sorted({q["project"] for q in queries})
        commits: dict[str, str] = {}
        builds: list[IndexStats] = []
        for name in projects:
            builds.append(index_repository(conn, tenant, name, build(work / name, name), embedder=embedder))
            commits[name] = builds[-1].commit
        extra = [index_repository(conn, tenant, f"extra-{i}", repo, embedder=embedder)
                 for i, repo in enumerate(args.extra_repo)]
        _report_recall(conn, tenant, commits, queries, embedder, builds[0], args.misses)
        _report_build("fixtures", builds)
        if extra:
            _report_build("with --extra-repo", builds + extra)
        for stats in builds + extra:
            print(f"  {stats.repo}: {stats.files} files, {stats.chunks} chunks, {stats.seconds:.2f}s, "
                  f"skipped {stats.skipped or 'none'}")
    return 0


def _embedded(stack: ExitStack, work: Path) -> str:
    import pgserver

    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    stack.callback(server._cleanup)
    return server.get_uri("postgres")


def _report_recall(conn: psycopg.Connection, tenant: str, commits: dict[str, str], queries: list[dict[str, str]],
                   embedder: Embedder, first: IndexStats, show_misses: bool) -> None:
    modes = MODES if first.retrieval == "hybrid" else ("fts",)
    found = {mode: {"file": 0, "symbol": 0} for mode in modes}
    per_project: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: dict[str, list[str]] = defaultdict(list)
    seconds = 0.0
    for q in queries:
        for mode in modes:
            started = time.perf_counter()
            hits = search(conn, tenant, q["project"], commits[q["project"]], q["query"], k=K, embedder=embedder,
                          mode=mode)
            seconds += time.perf_counter() - started
            file_hit = any(h.path == q["file"] for h in hits)
            found[mode]["file"] += file_hit
            found[mode]["symbol"] += any(h.path == q["file"] and h.symbol == q.get("symbol") for h in hits)
            per_project[q["project"]][mode] += file_hit
            if not file_hit:
                misses[mode].append(f"{q['project']}: {q['query']}")
    n = len(queries)
    counts = ", ".join(f"{p} {sum(q['project'] == p for q in queries)}" for p in sorted(per_project))
    print(f"code index recall@{K}, {n} labelled queries ({counts}), embedder {embedder.name}")
    if first.retrieval != "hybrid":
        print(f"  vector and fused: not measured, {first.note}")
    for mode in modes:
        projects = ", ".join(f"{p} {per_project[p][mode]}" for p in sorted(per_project))
        print(f"  {mode:7} by file {found[mode]['file'] / n:.3f} ({found[mode]['file']}/{n}: {projects})   "
              f"by symbol {found[mode]['symbol'] / n:.3f}")
    print(f"  search latency: {1000 * seconds / (n * len(modes)):.1f} ms mean per query")
    if show_misses:
        for mode in modes:
            print(f"  missed by {mode}:", *misses[mode], sep="\n    ")


def _report_build(label: str, builds: list[IndexStats]) -> None:
    files = sum(s.files for s in builds)
    chunks = sum(s.chunks for s in builds)
    seconds = sum(s.seconds for s in builds)
    print(f"index build ({label}): {files} files, {chunks} chunks in {seconds:.2f}s = "
          f"{1000 * seconds / max(files, 1):.1f}s per 1,000 files")


if __name__ == "__main__":
    sys.exit(main())
