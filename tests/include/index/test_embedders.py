"""The hashed offline embedder, and a provider's embeddings through the model router (the LLM emulator's
/v1/embeddings, the real router and ledger in PostgreSQL)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from include.index.embedders import MODEL_ENV, HashedEmbedder, RoutedEmbedder, embedder_from, platform_embedder
from include.index.tokens import split_identifier, words
from include.store.routing import set_policy
from include.store.tenants import create_tenant
from model_serving.router import RoutingPolicy
from model_serving.router.errors import DataBoundaryViolation, ProviderUnavailable
from model_serving.router.ledger import calls, set_price
from tests.emulators.llm.emulator import API_KEY, EMBEDDING_DIMENSIONS, Emulator, EmulatorServer

CLOUD = "openai:text-embed-small"
LOCAL = "vllm:bge-small"


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_identifiers_split_on_case_underscores_and_digits() -> None:
    assert split_identifier("parseHTTPHeader_v2") == ["parse", "http", "header", "v", "2"]
    assert words("self.border_style") == ["self", "border", "style", "border_style"]


def test_hashed_embeddings_are_deterministic_unit_vectors() -> None:
    embedder = HashedEmbedder()
    first = embedder.embed_documents(["def parse_header(line): return line"])[0]
    assert first == HashedEmbedder().embed_query("def parse_header(line): return line")
    assert len(first) == 512 and math.isclose(_cosine(first, first), 1.0)
    assert embedder.embed_query("the of and") == [0.0] * 512  # nothing but stopwords: no direction at all


def test_hashed_embeddings_meet_across_naming_styles() -> None:
    embedder = HashedEmbedder()
    query = embedder.embed_query("parse the header lines")
    near = embedder.embed_query("def parseHeaderLine(raw): ...")
    far = embedder.embed_query("def render_border(table): ...")
    assert _cosine(query, near) > 0.5 > _cosine(query, far)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with EmulatorServer("openai") as served:
        for env in ("OPENAI", "VLLM"):
            monkeypatch.setenv(f"{env}_BASE_URL", served.url)
            monkeypatch.setenv(f"{env}_API_KEY", API_KEY)
        yield served


def _tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def test_a_providers_embeddings_go_through_the_router_in_batches_with_ledger_rows(
        emulator: Emulator, db: psycopg.Connection) -> None:
    tenant = _tenant()
    set_price(db, CLOUD, input_usd_per_mtok=0.02, output_usd_per_mtok=0)
    embedder = RoutedEmbedder(CLOUD, tenant, "billing", batch_size=2)
    vectors = embedder.embed_documents(["def a(): ...", "def bb(): ...", "def ccc(): ..."])
    assert len(vectors) == 3 and {len(v) for v in vectors} == {EMBEDDING_DIMENSIONS}
    assert vectors[0] == embedder.embed_query("def a(): ...") != vectors[1]
    assert [r["body"]["input"] for r in emulator.requests] == [["def a(): ...", "def bb(): ..."], ["def ccc(): ..."],
                                                               ["def a(): ..."]]
    rows = calls(db, tenant)
    assert [(r["step"], r["repo"], r["status"], r["model"]) for r in rows] == [
        ("index.embed", "billing", "ok", "text-embed-small")] * 3
    assert sum(r["tokens_in"] for r in rows) == emulator.reported["tokens_in"] and all(r["cost_usd"] > 0 for r in rows)
    assert embedder.name == f"router:{CLOUD}"


def test_a_cloud_model_sees_redacted_code_and_a_self_hosted_one_the_code(emulator: Emulator,
                                                                      db: psycopg.Connection) -> None:
    text = "OWNER = 'dana.whitfield@contoso.com'"
    set_price(db, CLOUD, input_usd_per_mtok=0.02, output_usd_per_mtok=0)
    RoutedEmbedder(CLOUD, _tenant()).embed_query(text)
    RoutedEmbedder(LOCAL, _tenant()).embed_query(text)
    cloud, local = (r["body"]["input"][0] for r in emulator.requests)
    assert "contoso" not in cloud and "[EMAIL_1]" in cloud
    assert local == text


def test_the_tenants_data_boundary_holds_for_embeddings(emulator: Emulator,
                                                                  db: psycopg.Connection) -> None:
    tenant = _tenant()
    create_tenant(db, tenant, f"{tenant}-hooks", "s", "billing", [])
    set_policy(db, tenant, RoutingPolicy(default_model=LOCAL, large_model=LOCAL, data_boundary="self_hosted_only"),
               actor="test")
    with pytest.raises(DataBoundaryViolation, match="self_hosted_only"):
        RoutedEmbedder(CLOUD, tenant).embed_query("x")
    assert RoutedEmbedder(LOCAL, tenant).embed_query("x")
    assert emulator.requests and all(r["body"]["model"] == "bge-small" for r in emulator.requests)


def test_a_failing_endpoint_is_reported_and_ledgered(emulator: Emulator, db: psycopg.Connection) -> None:
    tenant = _tenant()
    emulator.fail_next("500")
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        RoutedEmbedder(LOCAL, tenant).embed_query("x")
    assert [r["status"] for r in calls(db, tenant)] == ["error"]


def test_embedders_by_name_and_the_platforms_choice() -> None:
    assert isinstance(embedder_from("hashed", "acme"), HashedEmbedder)
    with pytest.raises(ValueError, match="--embeddings-model"):
        embedder_from("router", "acme")
    with pytest.raises(ValueError, match="unknown embedder 'word2vec'"):
        embedder_from("word2vec", "acme")
    assert isinstance(platform_embedder("acme", env={}), HashedEmbedder)
    chosen = platform_embedder("acme", "billing", env={MODEL_ENV: LOCAL})
    assert isinstance(chosen, RoutedEmbedder) and chosen.name == f"router:{LOCAL}"
