"""The index's contracts: a chunk of source, what one indexing run did, one search hit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChunkKind = Literal["function", "class", "method", "module-part", "yaml-key", "window"]
Retrieval = Literal["hybrid", "fts-only", "vector-only"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Chunk(_Model):
    """One symbol (or one window of a file without a grammar). Lines are 1-based and inclusive."""

    path: str
    language: str  # a tree-sitter grammar name, or "text" for line windows
    symbol: str  # qualified: `Class.method`, `jobs.build`; "" for module parts and windows
    kind: ChunkKind
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    text: str


class IndexStats(_Model):
    """What `index_repository` did for one (repo, commit)."""

    tenant: str
    repo: str
    commit: str
    files: int  # indexed files at the commit
    files_reused: int  # unchanged since an indexed commit: chunks (and vectors) reused, nothing re-read
    files_chunked: int
    skipped: dict[str, int] = Field(default_factory=dict)  # reason -> files (binary, vendored, too-big)
    chunks: int  # chunks at the commit
    chunks_new: int
    chunks_embedded: int
    embedder: str | None  # None in full-text-only mode
    retrieval: Literal["hybrid", "fts-only"]
    note: str = ""  # why the index is full-text only, when it is
    seconds: float


class Hit(_Model):
    """One search result. `retrieval` and `note` say which searches produced it: a full-text-only index says so on
    every hit rather than passing for a hybrid one."""

    path: str
    language: str
    symbol: str
    kind: ChunkKind
    start_line: int
    end_line: int
    text: str
    score: float  # reciprocal-rank fusion score
    fts_rank: int | None  # 1-based rank in the full-text list, None when absent from it
    vector_rank: int | None
    retrieval: Retrieval
    note: str = ""
