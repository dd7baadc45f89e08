"""The index's tables, in the tenant's own schema (`tenant_<id>`, as the ledger's: DESIGN §5).

    code_index_commits  (repo, commit) -> embedder (NULL: full-text only) and why
    code_index_files    (repo, commit, path) -> blob
    code_index_blobs    (repo, path, blob, chunker): chunked once, whatever commits share it
    code_index_chunks   one row per chunk of a (repo, path, blob), with its tsvector
    code_index_vectors  (chunk, embedder) -> vector; exists only where pgvector does

Chunks hang off (path, blob), not off a commit, so a file unchanged between commits is chunked and embedded once.
The tables are created here rather than by a platform migration so the index can live in any PostgreSQL that has
pgvector, also one apart from the platform database. Vector search scans a commit's vectors exactly: a commit
holds thousands of chunks, where an approximate index would cost recall for no measurable speed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

from include.index.models import Chunk
from include.index.tokens import searchable
from model_serving.router.ledger import tenant_schema

CHUNKER_VERSION = 1  # bump when chunk boundaries change: old chunks are then not reused
FTS_CONFIG = "english"
_TENANT = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")  # the ledger's rule (migration 0002)
_DDL_LOCK = 727_010  # pg_advisory_xact_lock(key, hashtext(tenant)): one DDL run per tenant at a time

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.code_index_commits (
    repo text NOT NULL, commit text NOT NULL, embedder text, note text NOT NULL DEFAULT '',
    files integer NOT NULL, chunks integer NOT NULL, indexed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo, commit));
CREATE TABLE IF NOT EXISTS {s}.code_index_files (
    repo text NOT NULL, commit text NOT NULL, path text NOT NULL, blob text NOT NULL,
    PRIMARY KEY (repo, commit, path),
    FOREIGN KEY (repo, commit) REFERENCES {s}.code_index_commits ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS {s}.code_index_blobs (
    repo text NOT NULL, path text NOT NULL, blob text NOT NULL, chunker integer NOT NULL, chunks integer NOT NULL,
    PRIMARY KEY (repo, path, blob, chunker));
CREATE TABLE IF NOT EXISTS {s}.code_index_chunks (
    id bigserial PRIMARY KEY, repo text NOT NULL, path text NOT NULL, blob text NOT NULL, chunker integer NOT NULL,
    ordinal integer NOT NULL, language text NOT NULL, symbol text NOT NULL, kind text NOT NULL,
    start_line integer NOT NULL, end_line integer NOT NULL, text text NOT NULL, tsv tsvector NOT NULL,
    UNIQUE (repo, path, blob, chunker, ordinal));
CREATE INDEX IF NOT EXISTS code_index_chunks_tsv ON {s}.code_index_chunks USING gin (tsv);
"""
_VECTORS = """
CREATE TABLE IF NOT EXISTS {s}.code_index_vectors (
    chunk_id bigint NOT NULL REFERENCES {s}.code_index_chunks ON DELETE CASCADE, embedder text NOT NULL,
    embedding {v}.vector NOT NULL, PRIMARY KEY (chunk_id, embedder));
"""


def schema_for(tenant: str) -> str:
    if not _TENANT.match(tenant):
        raise ValueError(f"invalid tenant id {tenant!r}: lower-case letters, digits and dashes only")
    return tenant_schema(tenant)


def _one(conn: psycopg.Connection, query: str | sql.Composable, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(query, params)
        return cur.fetchone()


def vector_schema(conn: psycopg.Connection) -> tuple[str | None, str]:
    """(schema holding pgvector's `vector` type, "") where vectors can be stored, creating the extension when the
    server has it and the role may; else (None, why not)."""
    found = _one(conn, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                       "WHERE e.extname = 'vector'")
    if found:
        return found[0], ""
    if not _one(conn, "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"):
        version = _one(conn, "SHOW server_version")
        return None, (f"pgvector is not installed on this PostgreSQL server ({version[0] if version else '?'}): "
                      "vector search is off, full-text search only")
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as exc:
        return None, (f"pgvector is installed but this role cannot create the extension ({exc.diag.message_primary}):"
                      " vector search is off, full-text search only; a superuser can run CREATE EXTENSION vector")
    return vector_schema(conn)


def ensure_schema(conn: psycopg.Connection, tenant: str, vectors_in: str | None) -> str:
    """Create the tenant's schema and index tables (and the vector table where pgvector is); returns the schema."""
    schema = schema_for(tenant)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_DDL_LOCK, tenant))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        names = {"s": sql.Identifier(schema), "v": sql.Identifier(vectors_in or "public")}
        conn.execute(sql.SQL(_TABLES).format(**names))
        if vectors_in:
            conn.execute(sql.SQL(_VECTORS).format(**names))
    return schema


def has_vector_table(conn: psycopg.Connection, schema: str) -> bool:
    return _one(conn, "SELECT to_regclass(%s)", (f"{schema}.code_index_vectors",)) not in (None, (None,))


def chunked(conn: psycopg.Connection, schema: str, repo: str, files: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (path, blob) pairs of `files` already chunked by this chunker version."""
    if not files:
        return set()
    query = sql.SQL("SELECT b.path, b.blob FROM {}.code_index_blobs b "
                    "JOIN unnest(%s::text[], %s::text[]) AS f(path, blob) USING (path, blob) "
                    "WHERE b.repo = %s AND b.chunker = %s").format(sql.Identifier(schema))
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(query, ([p for p, _ in files], [b for _, b in files], repo, CHUNKER_VERSION))
        return {(path, blob) for path, blob in cur.fetchall()}


def add_chunks(conn: psycopg.Connection, schema: str, repo: str, blob: str, chunks: list[Chunk], path: str) -> None:
    """Store one file's chunks and mark (path, blob) chunked, also when it has none."""
    s = sql.Identifier(schema)
    with conn.cursor() as cur:
        cur.executemany(sql.SQL(
            "INSERT INTO {}.code_index_chunks (repo, path, blob, chunker, ordinal, language, symbol, kind, "
            "start_line, end_line, text, tsv) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "setweight(to_tsvector(%s::regconfig, %s), 'A') || to_tsvector(%s::regconfig, %s)) "
            "ON CONFLICT DO NOTHING").format(s),
            [(repo, path, blob, CHUNKER_VERSION, i, c.language, c.symbol, c.kind, c.start_line, c.end_line,
              c.text.replace("\0", ""), FTS_CONFIG, searchable(f"{c.path} {c.symbol}"), FTS_CONFIG,
              searchable(c.text)) for i, c in enumerate(chunks)])
        cur.execute(sql.SQL("INSERT INTO {}.code_index_blobs (repo, path, blob, chunker, chunks) "
                            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(s),
                    (repo, path, blob, CHUNKER_VERSION, len(chunks)))


def record_commit(conn: psycopg.Connection, schema: str, repo: str, commit: str, files: Sequence[tuple[str, str]],
                  embedder: str | None, note: str) -> int:
    """Point (repo, commit) at its files, replacing an earlier run's; returns the commit's chunk count."""
    s = sql.Identifier(schema)
    conn.execute(sql.SQL("DELETE FROM {}.code_index_commits WHERE repo = %s AND commit = %s").format(s),
                 (repo, commit))
    conn.execute(sql.SQL("INSERT INTO {}.code_index_commits (repo, commit, embedder, note, files, chunks) "
                         "VALUES (%s, %s, %s, %s, %s, 0)").format(s), (repo, commit, embedder, note, len(files)))
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {}.code_index_files (repo, commit, path, blob) FROM STDIN").format(s)) as copy:
            for path, blob in files:
                copy.write_row((repo, commit, path, blob))
    count = _one(conn, sql.SQL(
        "UPDATE {s}.code_index_commits SET chunks = (SELECT count(*) FROM {s}.code_index_files f "
        "JOIN {s}.code_index_chunks c ON (c.repo, c.path, c.blob) = (f.repo, f.path, f.blob) AND c.chunker = %s "
        "WHERE f.repo = %s AND f.commit = %s) WHERE repo = %s AND commit = %s RETURNING chunks").format(s=s),
        (CHUNKER_VERSION, repo, commit, repo, commit))
    return int(count[0]) if count else 0


def unembedded(conn: psycopg.Connection, schema: str, repo: str, commit: str, embedder: str) -> list[dict[str, Any]]:
    """The commit's chunks without a vector from `embedder`: new chunks, or old ones under a new embedder."""
    s = sql.Identifier(schema)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL(
            "SELECT DISTINCT c.id, c.path, c.symbol, c.text FROM {s}.code_index_files f "
            "JOIN {s}.code_index_chunks c ON (c.repo, c.path, c.blob) = (f.repo, f.path, f.blob) AND c.chunker = %s "
            "LEFT JOIN {s}.code_index_vectors v ON v.chunk_id = c.id AND v.embedder = %s "
            "WHERE f.repo = %s AND f.commit = %s AND v.chunk_id IS NULL ORDER BY c.id").format(s=s),
            (CHUNKER_VERSION, embedder, repo, commit))
        return cur.fetchall()


def add_vectors(conn: psycopg.Connection, schema: str, vectors_in: str, embedder: str,
                rows: Sequence[tuple[int, list[float]]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(sql.SQL("INSERT INTO {}.code_index_vectors (chunk_id, embedder, embedding) "
                                "VALUES (%s, %s, %s::{}.vector) ON CONFLICT DO NOTHING").format(
                            sql.Identifier(schema), sql.Identifier(vectors_in)),
                        [(chunk_id, embedder, vector_literal(vector)) for chunk_id, vector in rows])


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vector) + "]"


def commit_row(conn: psycopg.Connection, schema: str, repo: str, commit: str) -> dict[str, Any] | None:
    if _one(conn, "SELECT to_regclass(%s)", (f"{schema}.code_index_commits",)) in (None, (None,)):
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL("SELECT * FROM {}.code_index_commits WHERE repo = %s AND commit = %s").format(
            sql.Identifier(schema)), (repo, commit))
        return cur.fetchone()


def latest_commit(conn: psycopg.Connection, tenant: str, repo: str) -> str | None:
    """The repository's most recently indexed commit, for callers that did not name one."""
    schema = schema_for(tenant)
    if _one(conn, "SELECT to_regclass(%s)", (f"{schema}.code_index_commits",)) in (None, (None,)):
        return None
    found = _one(conn, sql.SQL("SELECT commit FROM {}.code_index_commits WHERE repo = %s "
                               "ORDER BY indexed_at DESC LIMIT 1").format(sql.Identifier(schema)), (repo,))
    return found[0] if found else None
