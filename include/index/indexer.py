"""Index one commit of one repository: list its files, chunk the ones not chunked before, embed what has no
vector yet, and point (repo, commit) at the result. One transaction: a failed run leaves the previous index."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from include.index import store
from include.index.chunker import chunk_file
from include.index.embedders import Embedder, HashedEmbedder
from include.index.gitfiles import TreeFile, read_blobs, resolve_commit, tree_files
from include.index.models import IndexStats

log = logging.getLogger(__name__)
EMBED_BATCH = 256
READ_BATCH_BYTES = 32 * 1024 * 1024  # blob bytes per `git cat-file --batch` call: bounds what one read holds


def embedding_text(path: str, symbol: str, text: str) -> str:
    """What a chunk's vector is computed from: where it lives and what it is called, then its text."""
    return f"{path}\n{symbol}\n{text}" if symbol else f"{path}\n{text}"


def index_repository(conn: psycopg.Connection, tenant: str, repo: str, workdir: Path | str, commit: str = "HEAD",
                     embedder: Embedder | None = None) -> IndexStats:
    """Index `commit` (a hash, branch or tag) of the git repository at `workdir` as `repo` of `tenant`.

    Files whose (path, blob) an earlier commit already chunked are reused as they are. Without pgvector the index
    is built for full-text search only, which the log, the stats and every later search hit say."""
    started = time.perf_counter()
    workdir = Path(workdir)
    embedder = embedder or HashedEmbedder()
    sha = resolve_commit(workdir, commit)
    files, skipped = tree_files(workdir, sha)
    with conn.transaction():
        vectors_in, note = store.vector_schema(conn)
        if vectors_in is None:
            log.warning("code index %s/%s@%s: %s", tenant, repo, sha[:12], note)
        schema = store.ensure_schema(conn, tenant, vectors_in)
        pairs = [(f.path, f.blob) for f in files]
        done = store.chunked(conn, schema, repo, pairs)
        todo = [f for f in files if (f.path, f.blob) not in done]
        chunks_new = 0
        for batch in _batches(todo):
            texts = read_blobs(workdir, sorted({f.blob for f in batch}))
            for file in batch:
                text = texts[file.blob]
                if text is None:
                    skipped["binary"] = skipped.get("binary", 0) + 1
                    chunks = []
                else:
                    chunks = chunk_file(file.path, text)
                store.add_chunks(conn, schema, repo, file.blob, chunks, file.path)
                chunks_new += len(chunks)
        total = store.record_commit(conn, schema, repo, sha, pairs, embedder.name if vectors_in else None, note)
        embedded = _embed_missing(conn, schema, vectors_in, repo, sha, embedder) if vectors_in else 0
    stats = IndexStats(
        tenant=tenant, repo=repo, commit=sha, files=len(files), files_reused=len(files) - len(todo),
        files_chunked=len(todo), skipped=skipped, chunks=total, chunks_new=chunks_new, chunks_embedded=embedded,
        embedder=embedder.name if vectors_in else None, retrieval="hybrid" if vectors_in else "fts-only", note=note,
        seconds=round(time.perf_counter() - started, 3),
    )
    log.info("code index %s/%s@%s: %d files (%d reused), %d chunks (%d new, %d embedded), %s, %.1fs", tenant, repo,
             sha[:12], stats.files, stats.files_reused, stats.chunks, stats.chunks_new, stats.chunks_embedded,
             stats.retrieval, stats.seconds)
    return stats


def _batches(files: list[TreeFile]) -> Iterator[list[TreeFile]]:
    batch: list[TreeFile] = []
    size = 0
    for file in files:
        if batch and size + file.size > READ_BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += file.size
    if batch:
        yield batch


def _embed_missing(conn: psycopg.Connection, schema: str, vectors_in: str, repo: str, commit: str,
                   embedder: Embedder) -> int:
    rows = store.unembedded(conn, schema, repo, commit, embedder.name)
    for at in range(0, len(rows), EMBED_BATCH):
        batch = rows[at:at + EMBED_BATCH]
        vectors = embedder.embed_documents([embedding_text(r["path"], r["symbol"], r["text"]) for r in batch])
        store.add_vectors(conn, schema, vectors_in, embedder.name, [(r["id"], v) for r, v in zip(batch, vectors,
                                                                                                  strict=True)])
    return len(rows)
