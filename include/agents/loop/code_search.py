"""The loop's `search_code` tool: the code index (include/index) of the working copy's commit, built on first use.

Indexing is incremental (unchanged files are reused from earlier commits of the repository), so the first
search of a step costs seconds on a real repository and later ones milliseconds. The index holds the commit
the step started from; the tool says so, since the loop's own edits are found with search_text."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_ai import ModelRetry

from include.agents.code_pointers import pointer_line
from include.index import Embedder, index_repository, search
from include.index.embedders import platform_embedder
from include.settings import get_settings
from include.store.db import connect

log = logging.getLogger(__name__)


@dataclass
class CodeSearch:
    tenant: str
    repo: str
    root: Path
    _commit: str | None = field(default=None, repr=False)
    _embedder: Embedder = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._embedder = platform_embedder(self.tenant, self.repo)

    def __call__(self, query: str, k: int = 10) -> str:
        db_url = get_settings().db_url
        if not db_url:
            raise ModelRetry("there is no code index here (no platform database); use search_text instead")
        with connect(db_url, autocommit=True) as conn:
            if self._commit is None:
                head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=self.root, capture_output=True, text=True,
                                      check=True).stdout.strip()
                stats = index_repository(conn, self.tenant, self.repo, self.root, head, embedder=self._embedder)
                log.info("code index of %s@%s: %s", self.repo, head[:12], stats.model_dump_json())
                self._commit = stats.commit
            hits = search(conn, self.tenant, self.repo, self._commit, query, k=max(1, min(k, 20)),
                          embedder=self._embedder)
        if not hits:
            return f"the code index has nothing for {query!r}; try other words or search_text"
        note = f"; {hits[0].note}" if hits[0].note else ""
        lines = [f"(index of commit {self._commit[:12]}, before this step's edits{note})"]
        lines += [pointer_line(hit) for hit in hits]
        return "\n".join(lines)
