"""Indexing and searching real git repositories in PostgreSQL: hybrid with pgvector, full-text only without."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest

from include.index import HashedEmbedder, index_repository, latest_commit, search
from include.index.__main__ import main
from include.index.gitfiles import read_blobs, tree_files
from include.index.store import schema_for
from tests.include.index.conftest import Commit

HEADERS = '''"""HTTP message parsing."""


def parse_header(line):
    """Split one header line into its name and value."""
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


class Request:
    def content_length(self):
        return int(self.headers.get("content-length", 0))
'''
TABLE_TS = """export class Table {
  drawBorder(style: string): string {
    return style.repeat(3);
  }
}
"""
WORKFLOW = """jobs:
  test:
    steps:
      - run: pytest
"""
FILES: dict[str, str | bytes | None] = {
    "src/http/headers.py": HEADERS,
    "web/table.ts": TABLE_TS,
    ".github/workflows/ci.yml": WORKFLOW,
    "README.md": "# Demo\n\nParses HTTP headers and draws tables.\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\0\0\0binary",
    "data.txt": b"looks like text\0but is not",
    "node_modules/left-pad/index.js": "module.exports = function leftPad() {};\n",
}


def _rows(conn: psycopg.Connection, tenant: str, table: str) -> int:
    return conn.execute(f'SELECT count(*) FROM "{schema_for(tenant)}".{table}').fetchone()[0]


def test_the_tree_leaves_out_vendored_and_binary_files(git_repo: tuple[Path, Commit]) -> None:
    repo, commit = git_repo
    sha = commit(FILES, "import")
    files, skipped = tree_files(repo, sha)
    assert sorted(f.path for f in files) == [".github/workflows/ci.yml", "README.md", "data.txt",
                                             "src/http/headers.py", "web/table.ts"]
    assert skipped == {"vendored": 1, "binary": 1}
    texts = read_blobs(repo, [f.blob for f in files])
    assert texts[next(f.blob for f in files if f.path == "data.txt")] is None  # NUL byte: binary after all
    assert texts[next(f.blob for f in files if f.path == "README.md")].startswith("# Demo")


def test_index_and_search_hybrid(vconn: psycopg.Connection, tenant: str, git_repo: tuple[Path, Commit]) -> None:
    repo, commit = git_repo
    sha = commit(FILES, "import")
    stats = index_repository(vconn, tenant, "demo", repo, "main")
    assert (stats.commit, stats.retrieval, stats.note, stats.embedder) == (sha, "hybrid", "", HashedEmbedder().name)
    assert (stats.files, stats.files_reused, stats.files_chunked) == (5, 0, 5)
    assert stats.skipped == {"vendored": 1, "binary": 2}
    assert stats.chunks == stats.chunks_new == stats.chunks_embedded == _rows(vconn, tenant, "code_index_vectors")

    hits = search(vconn, tenant, "demo", sha, "parse header")
    assert (hits[0].path, hits[0].symbol, hits[0].kind) == ("src/http/headers.py", "parse_header", "function")
    assert hits[0].fts_rank == 1 and hits[0].vector_rank is not None
    assert (hits[0].start_line, hits[0].end_line) == (4, 7)
    assert {h.retrieval for h in hits} == {"hybrid"} and {h.note for h in hits} == {""}
    assert search(vconn, tenant, "demo", sha, "where is the border drawn")[0].symbol == "Table.drawBorder"
    assert search(vconn, tenant, "demo", sha, "which jobs run the tests", k=1)[0].symbol == "jobs"
    assert {h.retrieval for h in search(vconn, tenant, "demo", sha, "header", mode="vector")} == {"vector-only"}


def test_a_new_commit_reuses_unchanged_files(vconn: psycopg.Connection, tenant: str,
                                             git_repo: tuple[Path, Commit]) -> None:
    repo, commit = git_repo
    first = commit(FILES, "import")
    index_repository(vconn, tenant, "demo", repo, first)
    chunks_before = _rows(vconn, tenant, "code_index_chunks")
    second = commit({"web/table.ts": TABLE_TS.replace("repeat(3)", "repeat(4)"), "README.md": None}, "edit")
    stats = index_repository(vconn, tenant, "demo", repo, second)
    assert (stats.files, stats.files_reused, stats.files_chunked) == (4, 3, 1)
    assert stats.chunks_new == stats.chunks_embedded == 2  # the class header and its method
    assert _rows(vconn, tenant, "code_index_chunks") == chunks_before + 2
    assert latest_commit(vconn, tenant, "demo") == second
    # Both commits stay searchable, each with its own files.
    assert {h.path for h in search(vconn, tenant, "demo", first, "demo parses")} >= {"README.md"}
    assert "README.md" not in {h.path for h in search(vconn, tenant, "demo", second, "demo parses")}
    again = index_repository(vconn, tenant, "demo", repo, second)  # re-indexing a commit is a no-op
    assert (again.files_reused, again.chunks_new, again.chunks_embedded) == (4, 0, 0)


def test_tenants_are_isolated(vconn: psycopg.Connection, tenant: str, git_repo: tuple[Path, Commit]) -> None:
    repo, commit = git_repo
    sha = commit(FILES, "import")
    other = f"{tenant}-b"
    index_repository(vconn, tenant, "demo", repo, sha)
    with pytest.raises(LookupError, match="not indexed for tenant"):
        search(vconn, other, "demo", sha, "parse header")
    commit({"src/http/headers.py": "def unrelated():\n    pass\n"}, "other tenant's copy")
    index_repository(vconn, other, "demo", repo, "HEAD")
    assert vconn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                         "AND table_name LIKE 'code_index_%%'", (schema_for(other),)).fetchone()[0] == 5
    mine = {h.symbol for h in search(vconn, tenant, "demo", sha, "parse header unrelated")}
    assert "parse_header" in mine and "unrelated" not in mine
    with pytest.raises(ValueError, match="invalid tenant id"):
        index_repository(vconn, "Bad_Tenant", "demo", repo, sha)


def test_without_pgvector_the_index_is_full_text_only_and_says_so(
        plain_conn: psycopg.Connection, tenant: str, git_repo: tuple[Path, Commit],
        caplog: pytest.LogCaptureFixture) -> None:
    repo, commit = git_repo
    sha = commit(FILES, "import")
    with caplog.at_level(logging.WARNING, logger="include.index.indexer"):
        stats = index_repository(plain_conn, tenant, "demo", repo, sha)
    assert (stats.retrieval, stats.embedder, stats.chunks_embedded) == ("fts-only", None, 0)
    assert "pgvector" in stats.note and "full-text search only" in stats.note
    assert any("full-text search only" in r.getMessage() for r in caplog.records)
    hits = search(plain_conn, tenant, "demo", sha, "parse header")
    assert hits[0].symbol == "parse_header" and hits[0].vector_rank is None
    assert {h.retrieval for h in hits} == {"fts-only"} and {h.note for h in hits} == {stats.note}
    with pytest.raises(ValueError, match="no vector search"):
        search(plain_conn, tenant, "demo", sha, "parse header", mode="vector")


def test_a_query_from_another_embedder_falls_back_to_full_text(
        vconn: psycopg.Connection, tenant: str, git_repo: tuple[Path, Commit]) -> None:
    repo, commit = git_repo
    sha = commit(FILES, "import")
    index_repository(vconn, tenant, "demo", repo, sha)
    hits = search(vconn, tenant, "demo", sha, "parse header", embedder=HashedEmbedder(dimensions=64))
    assert hits[0].retrieval == "fts-only" and "hashed-subword-v1-64" in hits[0].note


def test_cli_builds_and_searches(pgvector_url: str, tenant: str, git_repo: tuple[Path, Commit],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    repo, commit = git_repo
    commit(FILES, "import")
    assert main(["--db-url", pgvector_url, "--tenant", tenant, "--repo", "demo", "build", "--workdir",
                 str(repo)]) == 0
    assert '"retrieval": "hybrid"' in capsys.readouterr().out
    assert main(["--db-url", pgvector_url, "--tenant", tenant, "--repo", "demo", "search", "parse header",
                 "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[1] == "src/http/headers.py:4-7"
