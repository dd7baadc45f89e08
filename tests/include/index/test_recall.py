"""The index on the real-project fixtures answers labelled ticket-style queries with the labelled file.

A few queries of bench/index_recall.yaml (the bench measures all of them); each must bring its file into the
top 10, fused and full-text only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from include.demo.real_projects import build
from include.index import index_repository, search

LABELS = Path(__file__).resolve().parents[3] / "bench" / "index_recall.yaml"
QUERIES = (
    "where is the table's border line drawn between rows with the junction characters",
    "split a long table into pages separated by form feeds",
    "restore the real time functions after the frozen block ends",
    "clock that moves forward by a fixed step every time it is read",
    "turn email addresses in text into mailto links",
    "bare ampersands in attribute values must be escaped",
)
TENANT = "index-recall"


def _labelled() -> list[dict[str, str]]:
    labels = {q["query"]: q for q in yaml.safe_load(LABELS.read_text(encoding="utf-8"))["queries"]}
    return [labels[q] for q in QUERIES]


@pytest.fixture(scope="module")
def indexed(pgvector_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """project -> indexed commit, under a tenant whose schema is dropped afterwards."""
    root = tmp_path_factory.mktemp("real-projects")
    with psycopg.connect(pgvector_url, autocommit=True) as conn:
        commits = {name: index_repository(conn, TENANT, name, build(root / name, name)).commit
                   for name in sorted({q["project"] for q in _labelled()})}
        yield commits
        conn.execute('DROP SCHEMA "tenant_index_recall" CASCADE')


@pytest.mark.parametrize("label", _labelled(), ids=lambda q: f"{q['project']}:{q['symbol']}")
@pytest.mark.parametrize("mode", ["fused", "fts"])
def test_labelled_file_is_in_the_top_ten(indexed: dict[str, str], vconn: psycopg.Connection,
                                         label: dict[str, str], mode: str) -> None:
    hits = search(vconn, TENANT, label["project"], indexed[label["project"]], label["query"], k=10, mode=mode)
    assert label["file"] in [h.path for h in hits]
