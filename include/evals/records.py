"""The eval tables (migration 0004): one run per model evaluation, one result per golden and prompt version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from include.evals.catalog import ModelInfo
from include.evals.scoring import Score
from model_serving.router.ledger import Price


@dataclass(frozen=True)
class RunHeader:
    run_id: str
    model: str
    tenant: str
    trigger: str
    is_cloud: bool
    no_training: bool
    price: Price | None
    info: ModelInfo
    skipped: list[dict[str, str]]


@dataclass(frozen=True)
class CallTotals:
    """What the calls for one golden cost, summed from the router's responses (the ledger's own figures)."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: int = 0
    call_ids: tuple[str, ...] = ()


def start_run(conn: psycopg.Connection, run: RunHeader) -> None:
    conn.execute(
        "INSERT INTO ticketpilot.eval_runs (run_id, model, tenant_id, trigger, is_cloud, no_training, "
        "input_usd_per_mtok, output_usd_per_mtok, model_info, skipped) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run.run_id, run.model, run.tenant, run.trigger, run.is_cloud, run.no_training,
         run.price.input_usd_per_mtok if run.price else None, run.price.output_usd_per_mtok if run.price else None,
         run.info.model_dump_json(), json.dumps(run.skipped)))


def record_result(conn: psycopg.Connection, run: RunHeader, golden_id: str, skill: str, prompt_version: str,
                  score: Score, answer: str, usage: CallTotals, failure_reason: str) -> None:
    conn.execute(
        "INSERT INTO ticketpilot.eval_results (run_id, model, golden_id, skill, prompt_version, score, passed, "
        "failure_reason, checks, answer, calls, tokens_in, tokens_out, cost_usd, latency_ms, call_ids) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run.run_id, run.model, golden_id, skill, prompt_version, Decimal(str(score.score)), score.passed,
         failure_reason[:2000], json.dumps([c.as_json() for c in score.checks]), answer[:20_000], usage.calls,
         usage.tokens_in, usage.tokens_out, usage.cost_usd, usage.latency_ms, list(usage.call_ids)))


def finish_run(conn: psycopg.Connection, run_id: str, status: str, error: str = "") -> None:
    conn.execute("UPDATE ticketpilot.eval_runs SET status = %s, error = %s, finished_at = now() WHERE run_id = %s",
                 (status, error[:2000], run_id))


def run_row(conn: psycopg.Connection, run_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM ticketpilot.eval_runs WHERE run_id = %s", (run_id,)).fetchone()


def latest_run_id(conn: psycopg.Connection, model: str) -> str | None:
    """The model's newest complete run."""
    row = conn.execute("SELECT run_id FROM ticketpilot.eval_runs WHERE model = %s AND status = 'complete' "
                       "ORDER BY started_at DESC, run_id DESC LIMIT 1", (model,)).fetchone()
    return row["run_id"] if row else None


def results(conn: psycopg.Connection, run_id: str) -> list[dict[str, Any]]:
    return conn.execute("SELECT * FROM ticketpilot.eval_results WHERE run_id = %s "
                        "ORDER BY prompt_version, skill, golden_id", (run_id,)).fetchall()


def scores(conn: psycopg.Connection, run_id: str) -> list[dict[str, Any]]:
    return conn.execute("SELECT * FROM ticketpilot.eval_scores WHERE run_id = %s ORDER BY skill, prompt_version",
                        (run_id,)).fetchall()
