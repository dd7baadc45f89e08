"""`python -m include.index build|search`: index a local git repository for a tenant, or search its index.

    python -m include.index build --tenant acme --repo billing --workdir ./billing --commit main
    python -m include.index search --tenant acme --repo billing "where is the invoice total rounded"

The database is --db-url, else TICKETPILOT_DB_URL (the platform's)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from include.index.embedders import EMBEDDERS, embedder_from
from include.index.indexer import index_repository
from include.index.search import search
from include.index.store import latest_commit
from include.store.db import connect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.index", description=__doc__.split("\n")[0])
    parser.add_argument("--db-url", help="PostgreSQL URL (default: TICKETPILOT_DB_URL)")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--embedder", choices=EMBEDDERS, default="hashed")
    parser.add_argument("--embeddings-model")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="index one commit of a local git repository")
    build.add_argument("--workdir", type=Path, required=True, help="the repository (a clone or a bare repository)")
    build.add_argument("--commit", default="HEAD", help="hash, branch or tag (default: HEAD)")
    find = commands.add_parser("search", help="search an indexed commit")
    find.add_argument("query")
    find.add_argument("--commit", help="indexed commit hash (default: the one indexed last)")
    find.add_argument("-k", type=int, default=10)
    find.add_argument("--mode", choices=("fused", "fts", "vector"), default="fused")
    find.add_argument("--json", action="store_true", help="print the hits as JSON lines, with their text")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    embedder = embedder_from(args.embedder, args.tenant, args.embeddings_model)
    with connect(args.db_url, autocommit=True) as conn:
        if args.command == "build":
            stats = index_repository(conn, args.tenant, args.repo, args.workdir, args.commit, embedder=embedder)
            print(stats.model_dump_json(indent=2))
            return 0
        commit = args.commit or latest_commit(conn, args.tenant, args.repo)
        if commit is None:
            print(f"{args.repo} has no indexed commit for tenant {args.tenant}", file=sys.stderr)
            return 1
        hits = search(conn, args.tenant, args.repo, commit, args.query, k=args.k, embedder=embedder, mode=args.mode)
    if hits and hits[0].note:
        print(f"note: {hits[0].note}", file=sys.stderr)
    for hit in hits:
        if args.json:
            print(json.dumps(hit.model_dump()))
        else:
            print(f"{hit.score:.4f}  {hit.path}:{hit.start_line}-{hit.end_line}  {hit.kind} {hit.symbol}  "
                  f"(fts {hit.fts_rank or '-'}, vector {hit.vector_rank or '-'}, {hit.retrieval})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
