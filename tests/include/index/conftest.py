"""Databases for the code index: one that has pgvector, and one where it cannot be had (full-text only).

pgvector comes from, in order: TICKETPILOT_INDEX_PGVECTOR_URL; the session's embedded pgserver (its wheel ships
pgvector 0.6.2 beside PostgreSQL 16.2); PostgreSQL on 127.0.0.1:5432 where it has the extension. Where none has it,
the tests that need vectors skip and say so. The full-text-only tests always run: against a server without
pgvector, or as a role that may not create the extension (pgvector is not a trusted extension)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from include.scm.git import run_git

PGVECTOR_URL_ENV = "TICKETPILOT_INDEX_PGVECTOR_URL"
LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PLAIN_ROLE = "tp_index_plain"  # not a superuser: pgvector is not a trusted extension, so it may not create it


def _has_pgvector(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is not None
    except psycopg.Error:
        return False


def _fresh_database(server_url: str, owner: str | None = None) -> str:
    name = f"tp_index_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        if owner:
            conn.execute(f"DO $$ BEGIN CREATE ROLE {owner} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        conn.execute(f'CREATE DATABASE "{name}"' + (f" OWNER {owner}" if owner else ""))
    return make_conninfo(server_url, dbname=name, **({"user": owner} if owner else {}))


@pytest.fixture(scope="session")
def pgvector_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on a server that has pgvector."""
    tried = []
    explicit = os.environ.get(PGVECTOR_URL_ENV)
    candidates = [explicit] if explicit else []
    if not explicit:
        candidates.append(request.getfixturevalue("pg_server").get_uri("postgres"))
        candidates.append(LOCAL_SERVER)
    for url in candidates:
        if _has_pgvector(url):
            return _fresh_database(url)
        tried.append(url.split("?")[0])
    pytest.skip(f"no PostgreSQL with pgvector at hand (tried {', '.join(tried)}): is the embedded pgserver a build "
                f"without it? Debian bookworm packages none for PostgreSQL 15; set {PGVECTOR_URL_ENV}")


@pytest.fixture(scope="session")
def plain_url(pg_server: object) -> str:
    """A fresh database where pgvector cannot be had: owned by a role that may not create the extension (or on a
    server that lacks it)."""
    server_url = pg_server.get_uri("postgres")  # type: ignore[attr-defined]
    return _fresh_database(server_url, owner=PLAIN_ROLE if _has_pgvector(server_url) else None)


@pytest.fixture
def vconn(pgvector_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pgvector_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def plain_conn(plain_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(plain_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def tenant() -> str:
    """A tenant of its own per test: its schema starts empty."""
    return f"t{uuid.uuid4().hex[:10]}"


Commit = Callable[[dict[str, str | bytes | None], str], str]


@pytest.fixture
def git_repo(tmp_path: Path) -> tuple[Path, Commit]:
    """An empty git repository and `commit(files, message) -> hash`: bytes and str write a file, None deletes it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git("init", "--quiet", "--initial-branch=main", ".", cwd=repo)

    def commit(files: dict[str, str | bytes | None], message: str) -> str:
        for name, content in files.items():
            path = repo / name
            if content is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        run_git("add", "--all", "--force", ".", cwd=repo)
        run_git("commit", "--quiet", "--no-verify", "-m", message, cwd=repo)
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()

    return repo, commit
