"""Where the code index points for a ticket: the symbols a role starts from.

A role that reads a ticket without its code guesses at the areas it touches, and a loop that starts blind
spends its first turns listing files. The code index (include/index) of the commit the role works on names
the functions and files the ticket's own words lead to. These are pointers, not code: one line per symbol
(path, lines, kind, name, first line), so eight of them cost about a hundred tokens and the role reads what it
needs. Where there is no platform database, or the index fails, a role works without them and the log says so:
the pointers help, they never decide.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from include.agents import llm
from include.contracts import Ticket
from include.index import Embedder, Hit, index_repository, search
from include.index.embedders import platform_embedder
from include.scm import ScmError
from include.settings import get_settings
from include.store.db import connect

log = logging.getLogger(__name__)

POINTERS = 8
"""Pointers a role's prompt gets: enough for the few places a ticket touches, few enough to stay a map."""
MIN_WINDOW_TOKENS = 8192
"""A model with a smaller window (the embedded 2k-token SmolLM2) reads the ticket alone: the pointers would
crowd the ticket's own text out of its prompt."""
QUERY_CHARS = 2000
"""What of the ticket's text is searched: its title and the start of its description say where it is."""


def pointer_line(hit: Hit) -> str:
    """`path:start-end kind symbol: first line of the chunk` (what the loop's search_code tool answers too): the
    line that says what it is, past decorators; `-` for a chunk without a symbol (a file's top)."""
    lines = [line.strip() for line in hit.text.splitlines() if line.strip()]
    first = next((line for line in lines if not line.startswith("@")), lines[0] if lines else "")
    return f"{hit.path}:{hit.start_line}-{hit.end_line} {hit.kind} {hit.symbol or '-'}: {first[:120]}"


def fit(config: llm.LlmConfig | None) -> bool:
    """Whether a call to `config`'s models has room for pointers beside the ticket."""
    return config is not None and config.context_tokens >= MIN_WINDOW_TOKENS


def ticket_query(ticket: Ticket) -> str:
    text = "\n".join([ticket.title, ticket.description or "", *ticket.acceptance_criteria])
    return text[:QUERY_CHARS]


def for_ticket(ticket: Ticket, workdir: Path, commit: str = "HEAD", k: int = POINTERS,
               embedder: Embedder | None = None) -> list[str]:
    """The index's `k` best symbols for the ticket's text in `workdir`'s `commit` (indexed first, incrementally),
    as pointer lines; [] where no platform database is configured or the index cannot be used."""
    db_url = get_settings().db_url
    if not db_url:
        log.info("%s: no platform database, so no code index: the role starts without pointers", ticket.ticket_key)
        return []
    embedder = embedder or platform_embedder(ticket.tenant, ticket.repo)
    try:
        with connect(db_url, autocommit=True) as conn:
            stats = index_repository(conn, ticket.tenant, ticket.repo, workdir, commit, embedder=embedder)
            hits = search(conn, ticket.tenant, ticket.repo, stats.commit, ticket_query(ticket), k=k,
                          embedder=embedder)
    except (psycopg.Error, ScmError, OSError, LookupError, ValueError) as exc:
        log.warning("%s: the code index gave no pointers (%s: %s); the role starts without them",
                    ticket.ticket_key, type(exc).__name__, exc)
        return []
    return [pointer_line(hit) for hit in hits]
