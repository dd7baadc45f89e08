"""Search one indexed commit: full-text and vector lists fused by reciprocal rank.

Full-text search ORs the query's words (after the same identifier splitting the index applied), because a ticket
describes code in many more words than the code holds: an AND would match almost nothing. Reciprocal-rank fusion
(Cormack et al. 2009, k = 60) needs no score calibration between the two lists, which are not comparable."""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

from include.index import store
from include.index.embedders import Embedder, HashedEmbedder
from include.index.models import Hit, Retrieval
from include.index.tokens import searchable

Mode = Literal["fused", "fts", "vector"]
RRF_K = 60
POOL = 50  # candidates taken from each list before fusing


def search(conn: psycopg.Connection, tenant: str, repo: str, commit: str, query: str, k: int = 10,
           embedder: Embedder | None = None, mode: Mode = "fused") -> list[Hit]:
    """The `k` best chunks of `repo` at `commit` for `query`. `embedder` must be the one the commit was indexed
    with (default: the hashed one); where it is not, or the index has no vectors, the hits are full-text only and
    say why in their `note`. `mode` "fts" or "vector" returns one list unfused (a vector-only search of an index
    without vectors is an error, not an empty answer)."""
    schema = store.schema_for(tenant)
    row = store.commit_row(conn, schema, repo, commit)
    if row is None:
        raise LookupError(f"{repo}@{commit} is not indexed for tenant {tenant}")
    embedder = embedder or HashedEmbedder()
    note = _vectorless(conn, schema, row, embedder)
    if mode == "vector" and note:
        raise ValueError(f"no vector search for {repo}@{commit}: {note}")
    pool = max(POOL, k)
    fts_ids = _fts_ids(conn, schema, repo, commit, query, pool) if mode != "vector" else []
    vector_ids = _vector_ids(conn, schema, repo, commit, embedder, query, pool) if mode != "fts" and not note else []
    retrieval: Retrieval = {"fts": "fts-only", "vector": "vector-only"}.get(mode, "fts-only" if note else "hybrid")
    fts_rank = {chunk_id: rank for rank, chunk_id in enumerate(fts_ids, 1)}
    vector_rank = {chunk_id: rank for rank, chunk_id in enumerate(vector_ids, 1)}
    scores: dict[int, float] = {}
    for ranks in (fts_rank, vector_rank):
        for chunk_id, rank in ranks.items():
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda i: (-scores[i], min(fts_rank.get(i, pool + 1), vector_rank.get(i, pool + 1)),
                                         i))[:k]
    chunks = _chunks(conn, schema, best)
    return [Hit(path=chunks[i]["path"], language=chunks[i]["language"], symbol=chunks[i]["symbol"],
                kind=chunks[i]["kind"], start_line=chunks[i]["start_line"], end_line=chunks[i]["end_line"],
                text=chunks[i]["text"], score=round(scores[i], 6), fts_rank=fts_rank.get(i),
                vector_rank=vector_rank.get(i), retrieval=retrieval, note=note) for i in best]


def _vectorless(conn: psycopg.Connection, schema: str, row: dict[str, Any], embedder: Embedder) -> str:
    """Why this commit cannot be searched by vector with `embedder`; "" when it can."""
    if row["embedder"] is None:
        return row["note"] or "this commit was indexed without vectors: full-text search only"
    if row["embedder"] != embedder.name:
        return f"this commit's vectors come from {row['embedder']}, the query's from {embedder.name}: full-text only"
    if not store.has_vector_table(conn, schema):
        return "the vector table is missing: full-text search only"
    return ""


def _fts_ids(conn: psycopg.Connection, schema: str, repo: str, commit: str, query: str, limit: int) -> list[int]:
    s = sql.Identifier(schema)
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql.SQL(
            "WITH q AS (SELECT (SELECT string_agg(quote_literal(lexeme), ' | ') "
            "                   FROM unnest(to_tsvector(%s::regconfig, %s)))::tsquery AS q) "
            "SELECT c.id FROM q, {s}.code_index_files f "
            "JOIN {s}.code_index_chunks c ON (c.repo, c.path, c.blob) = (f.repo, f.path, f.blob) AND c.chunker = %s "
            "WHERE f.repo = %s AND f.commit = %s AND c.tsv @@ q.q "
            "ORDER BY ts_rank(c.tsv, q.q) DESC, c.id LIMIT %s").format(s=s),
            (store.FTS_CONFIG, searchable(query), store.CHUNKER_VERSION, repo, commit, limit))
        return [r[0] for r in cur.fetchall()]


def _vector_ids(conn: psycopg.Connection, schema: str, repo: str, commit: str, embedder: Embedder, query: str,
                limit: int) -> list[int]:
    vectors_in, _ = store.vector_schema(conn)
    s, v = sql.Identifier(schema), sql.Identifier(vectors_in or "public")
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql.SQL(
            "SELECT c.id FROM {s}.code_index_files f "
            "JOIN {s}.code_index_chunks c ON (c.repo, c.path, c.blob) = (f.repo, f.path, f.blob) AND c.chunker = %s "
            "JOIN {s}.code_index_vectors e ON e.chunk_id = c.id AND e.embedder = %s "
            "WHERE f.repo = %s AND f.commit = %s "
            "ORDER BY e.embedding OPERATOR({v}.<=>) %s::{v}.vector, c.id LIMIT %s").format(s=s, v=v),
            (store.CHUNKER_VERSION, embedder.name, repo, commit, store.vector_literal(embedder.embed_query(query)),
             limit))
        return [r[0] for r in cur.fetchall()]


def _chunks(conn: psycopg.Connection, schema: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL("SELECT id, path, language, symbol, kind, start_line, end_line, text "
                            "FROM {}.code_index_chunks WHERE id = ANY(%s)").format(sql.Identifier(schema)), (ids,))
        return {r["id"]: r for r in cur.fetchall()}
