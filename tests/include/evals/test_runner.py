"""The runner end to end: scripted answers from the LLM emulator, through the real router, into real
PostgreSQL. Result rows must agree with the ledger rows the router wrote for them, call for call."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from include.agents.llm import PROMPTS_DIR
from include.evals import records
from include.evals.goldens import Golden
from include.evals.runner import EvalRunFailed, EvalTarget, eval_targets, plan, run_evals
from model_serving.router import ConfigurationError
from model_serving.router.ledger import calls, set_price
from tests.include.evals.conftest import MODEL, PRICE, ScriptedModel

MILLION = Decimal(1_000_000)


def by_golden(db: psycopg.Connection, run_id: str) -> dict[str, dict]:
    return {row["golden_id"]: row for row in records.results(db, run_id)}


def assert_rows_match_the_ledger(db: psycopg.Connection, tenant: str, run_id: str) -> None:
    ledger = {row["idempotency_key"]: row for row in calls(db, tenant)}
    results = records.results(db, run_id)
    assert sum(r["calls"] for r in results) == len(ledger), "every ledger row belongs to exactly one result"
    for result in results:
        booked = [ledger[key] for key in result["call_ids"]]
        assert len(booked) == result["calls"]
        assert result["tokens_in"] == sum(row["tokens_in"] for row in booked)
        assert result["tokens_out"] == sum(row["tokens_out"] for row in booked)
        assert result["cost_usd"] == sum(row["cost_usd"] for row in booked)
        assert result["latency_ms"] == sum(row["latency_ms"] for row in booked)
        assert result["cost_usd"] == (result["tokens_in"] * PRICE[0] + result["tokens_out"] * PRICE[1]) / MILLION
        for row in booked:
            assert (row["step"], row["prompt_version"], row["ticket_key"], row["status"], row["cache_hit"]) == (
                f"eval:{result['skill']}", result["prompt_version"], f"eval:{result['golden_id']}", "ok", False)


def test_good_answers_pass_and_are_booked_like_any_call(scripted: ScriptedModel, target: EvalTarget, tenant: str,
                                                        goldens: list[Golden], db: psycopg.Connection) -> None:
    for golden in goldens:
        scripted.answer(golden.id, golden.reference)
    summary = run_evals(target, tenant=tenant, trigger="test")
    plans, skipped = plan()
    assert summary.skipped == skipped
    rows = records.results(db, summary.run_id)
    assert len(rows) == sum(len(p.goldens) for p in plans) and {r["golden_id"] for r in rows} == {g.id for g in goldens}
    assert all((r["score"], r["passed"], r["calls"], r["failure_reason"]) == (1, True, 1, "") for r in rows)
    assert all(r["model"] == MODEL and r["cost_usd"] > 0 for r in rows)
    assert_rows_match_the_ledger(db, tenant, summary.run_id)
    run = records.run_row(db, summary.run_id)
    assert (run["status"], run["tenant_id"], run["trigger"], run["is_cloud"], run["error"]) == (
        "complete", tenant, "test", False, "")
    assert (run["input_usd_per_mtok"], run["output_usd_per_mtok"]) == PRICE
    assert {(s["skill"], s["goldens"], s["passed"], s["mean_score"]) for s in summary.scores} == {
        (p.skill, len(p.goldens), len(p.goldens), Decimal("1.0000")) for p in plans}
    assert sum(s["cost_usd"] for s in summary.scores) == sum(r["cost_usd"] for r in rows)


def test_bad_answers_fail_with_reasons_and_a_retry_is_its_own_call(scripted: ScriptedModel, target: EvalTarget,
                                                                   tenant: str, goldens: list[Golden],
                                                                   db: psycopg.Connection) -> None:
    reference = {g.id: g.reference for g in goldens}
    scripted.answer("po-bump-requests", "no JSON here", reference["po-bump-requests"])
    scripted.answer("po-ci-pipeline", {"criteria": ["The pipeline runs somewhere sometime"]})
    scripted.answer("dev-bump-requests", *[{"summary": "Bump requests to 2.32.3.", "edits": [
        {"action": "replace", "path": "requirements.txt", "search": "requests==2.30.0",
         "replace": "requests==2.32.3"}]}] * 2)
    summary = run_evals(target, tenant=tenant, skills=["po_refine", "dev_edits"], latest_only=True)
    rows = by_golden(db, summary.run_id)
    retried = rows["po-bump-requests"]
    assert (retried["calls"], retried["score"], retried["passed"]) == (2, 1, True), "the retry's answer is scored"
    vague = rows["po-ci-pipeline"]
    assert (vague["calls"], vague["passed"]) == (1, False) and "keywords: missing push*" in vague["failure_reason"]
    unapplied = rows["dev-bump-requests"]
    assert unapplied["calls"] == 2, "an edit that does not apply gets the retry, as in the Dev agent"
    assert not unapplied["passed"]
    assert "the search text does not occur in requirements.txt" in unapplied["failure_reason"]
    echoed = rows["po-vat-per-invoice"]  # unscripted: the plain emulator's echo matches no schema
    assert (echoed["calls"], echoed["score"]) == (2, 0) and echoed["failure_reason"].startswith("schema:")
    assert echoed["answer"].startswith('{"model": "eval-model"')
    retry = scripted.emulator.requests[1]["body"]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"] and "did not validate" in retry[3][
        "content"]
    assert_rows_match_the_ledger(db, tenant, summary.run_id)


def test_a_provider_failure_costs_one_golden_not_the_run(scripted: ScriptedModel, target: EvalTarget, tenant: str,
                                                         goldens: list[Golden], db: psycopg.Connection) -> None:
    for golden in goldens:
        scripted.answer(golden.id, golden.reference)
    scripted.emulator.fail_next("500")
    summary = run_evals(target, tenant=tenant, skills=["docs_pr_description"])
    rows = records.results(db, summary.run_id)
    first, *rest = rows  # ordered by prompt version, skill, golden id: the first asked is docs-ci-pipeline
    assert (first["golden_id"], first["calls"], first["score"]) == ("docs-ci-pipeline", 0, 0)
    assert first["failure_reason"].startswith("no answer: AllProvidersFailed") and "HTTP 500" in first["failure_reason"]
    assert all(r["passed"] for r in rest) and records.run_row(db, summary.run_id)["status"] == "complete"
    assert [(s["prompt_version"], s["passed"]) for s in summary.scores] == [
        ("docs_pr_description.v1.0.0", 4), ("docs_pr_description.v2.0.0", 5), ("docs_pr_description.v2.1.0", 5)], \
        "one score per prompt version"


def test_a_run_where_nothing_answered_fails(scripted: ScriptedModel, target: EvalTarget, tenant: str,
                                           db: psycopg.Connection) -> None:
    scripted.emulator.fail_next("500", times=50)
    with pytest.raises(EvalRunFailed, match="none of the 5 goldens got an answer"):
        run_evals(target, tenant=tenant, skills=["po_refine"], latest_only=True)
    run = db.execute("SELECT * FROM ticketpilot.eval_runs WHERE tenant_id = %s", (tenant,)).fetchone()
    assert run["status"] == "failed" and "none of the 5 goldens" in run["error"] and run["finished_at"]


def test_a_cloud_model_without_a_price_stops_the_run(db: psycopg.Connection, tenant: str) -> None:
    target = EvalTarget(model="openai:gpt-unpriced-eval", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigurationError, match="no price for openai:gpt-unpriced-eval"):
        run_evals(target, tenant=tenant, skills=["po_refine"], env={"OPENAI_API_KEY": "test-key"})
    run = db.execute("SELECT * FROM ticketpilot.eval_runs WHERE tenant_id = %s", (tenant,)).fetchone()
    assert run["status"] == "failed" and run["error"].startswith("ConfigurationError: no price")
    assert run["is_cloud"] and run["input_usd_per_mtok"] is None


def test_the_agents_own_model_is_reached_with_their_key(scripted: ScriptedModel, tenant: str,
                                                        goldens: list[Golden], db: psycopg.Connection) -> None:
    """A cloud model: the key comes from the agents' environment, never from the target (which goes to XCom)."""
    set_price(db, "openai:gpt-eval-own", 1, 2, valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    [target] = eval_targets(None, {"TICKETPILOT_LLM_MODEL": "openai:gpt-eval-own",
                                   "TICKETPILOT_LLM_BASE_URL": scripted.emulator.url})
    assert target.model_dump() == {"model": "openai:gpt-eval-own", "base_url": scripted.emulator.url}
    with pytest.raises(ConfigurationError, match="no API key: set OPENAI_API_KEY"):
        run_evals(target, tenant=tenant, skills=["po_refine"], env={})
    for golden in goldens:
        scripted.answer(golden.id, golden.reference)
    env = {"TICKETPILOT_LLM_MODEL": "openai:gpt-eval-own", "TICKETPILOT_LLM_API_KEY": "sk-agents-own-key-0000"}
    summary = run_evals(target, tenant=tenant, skills=["po_refine"], latest_only=True, env=env)
    assert [s["passed"] for s in summary.scores] == [5]
    assert scripted.emulator.requests[0]["headers"]["authorization"] == "Bearer sk-agents-own-key-0000"
    assert records.run_row(db, summary.run_id)["is_cloud"]


def test_a_skill_without_its_prompt_is_skipped_not_failed(tmp_path: Path, scripted: ScriptedModel,
                                                          target: EvalTarget, tenant: str, goldens: list[Golden],
                                                          db: psycopg.Connection) -> None:
    shutil.copy(PROMPTS_DIR / "po_refine.v1.0.0.md", tmp_path)
    (tmp_path / "po_refine.v3.0.0.md").write_text("A future prompt with another answer shape.")
    (tmp_path / "po_refine.notes.md").write_text("not a prompt version")
    for golden in goldens:
        scripted.answer(golden.id, golden.reference)
    summary = run_evals(target, tenant=tenant, prompts_dir=tmp_path)
    assert summary.skipped == [
        {"skill": "po_refine", "reason": "no answer schema for po_refine.v3.0.0 (major 3) in include/evals/skills.py"},
        {"skill": "docs_pr_description", "reason": "no prompt docs_pr_description yet"},
        {"skill": "review_summary", "reason": "no prompt review_summary yet"},
        {"skill": "dev_edits", "reason": "no prompt dev_edits yet"},
    ]
    assert records.run_row(db, summary.run_id)["skipped"] == summary.skipped
    assert {(r["skill"], r["prompt_version"]) for r in records.results(db, summary.run_id)} == {
        ("po_refine", "po_refine.v1.0.0")}
    assert "  dev_edits: skipped: no prompt dev_edits yet" in summary.lines()


def test_every_prompt_version_is_evaluated_unless_latest_only(tmp_path: Path) -> None:
    shutil.copy(PROMPTS_DIR / "po_refine.v1.0.0.md", tmp_path / "po_refine.v1.0.0.md")
    shutil.copy(PROMPTS_DIR / "po_refine.v1.0.0.md", tmp_path / "po_refine.v1.10.0.md")
    shutil.copy(PROMPTS_DIR / "po_refine.v1.0.0.md", tmp_path / "po_refine.v1.2.0.md")
    plans, _ = plan(["po_refine"], tmp_path)
    assert [p.prompt.ref for p in plans] == ["po_refine.v1.0.0", "po_refine.v1.2.0", "po_refine.v1.10.0"]
    assert [p.prompt.ref for p in plan(["po_refine"], tmp_path, latest_only=True)[0]] == ["po_refine.v1.10.0"]


@pytest.mark.parametrize(("raw", "env", "expected"), [
    ("llamacpp:smollm2-135m-instruct, openai:gpt-4o-mini", {}, [("llamacpp:smollm2-135m-instruct", None),
                                                                ("openai:gpt-4o-mini", None)]),
    ('[{"model": "vllm:qwen", "base_url": "http://gpu:8000/v1"}, "openai:gpt-4o-mini"]', {},
     [("vllm:qwen", "http://gpu:8000/v1"), ("openai:gpt-4o-mini", None)]),
    (None, {"TICKETPILOT_EVAL_MODELS": "anthropic:claude-3-5-haiku-latest"},
     [("anthropic:claude-3-5-haiku-latest", None)]),
    ("", {"TICKETPILOT_LLM_MODEL": "llamacpp:smollm2-135m-instruct", "TICKETPILOT_LLM_BASE_URL": "http://x/v1"},
     [("llamacpp:smollm2-135m-instruct", "http://x/v1")]),
    (None, {}, []),
])
def test_eval_targets(raw: str | None, env: dict[str, str], expected: list[tuple[str, str | None]]) -> None:
    assert [(t.model, t.base_url) for t in eval_targets(raw, env)] == expected


@pytest.mark.parametrize("raw", ["gpt-4o-mini", '[{"name": "openai:gpt-4o-mini"}]', "[not json"])
def test_a_malformed_model_list_is_an_error(raw: str) -> None:
    with pytest.raises(ValueError, match="cannot read the models to evaluate"):
        eval_targets(raw, {})
