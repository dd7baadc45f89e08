"""The code index: a repository's symbols, per commit and tenant, searchable by full text and by vector.

    stats = index_repository(conn, "acme", "billing", "/path/to/clone", "main")
    hits = search(conn, "acme", "billing", stats.commit, "where is the invoice total rounded")

Chunks come from tree-sitter (chunker), files from git's object store (gitfiles), rows live in the tenant's
schema (store), vectors from an `Embedder` (embedders). `python -m include.index build|search` is the CLI."""

from include.index.embedders import E5Embedder, Embedder, HashedEmbedder, RoutedEmbedder
from include.index.indexer import index_repository
from include.index.models import Chunk, Hit, IndexStats
from include.index.search import search
from include.index.store import latest_commit

__all__ = ["Chunk", "E5Embedder", "Embedder", "HashedEmbedder", "Hit", "IndexStats", "RoutedEmbedder",
           "index_repository", "latest_commit", "search"]
