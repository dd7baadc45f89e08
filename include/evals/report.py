"""Model cards and evaluation reports, rendered as Markdown from the recorded rows of one run.

Everything on them comes from the run's rows (the facts copied in when it started, its results and the
`eval_scores` aggregate), in a fixed order and format, so rendering the same run twice gives the same
bytes. The files of a model's latest rendering replace the previous ones: the database keeps the history.

    <home>/reports/evals/<model>/MODEL_CARD.md            the card: facts, intended use, limits, scores by skill
    <home>/reports/evals/<model>/<prompt version>.md      the evaluation report: one line per golden
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from include.evals import records
from include.evals.catalog import ModelInfo
from include.settings import get_settings

TEMPLATES = Path(__file__).with_name("templates")
CARD_NAME = "MODEL_CARD.md"
WEAK_BELOW = Decimal("0.5")
"""A skill whose mean score is below this is listed among the model's known limits."""

_ENV = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=False,
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_ENV.filters["cell"] = lambda text: " ".join(str(text).split()).replace("|", "\\|") or "-"


def reports_dir() -> Path:
    return get_settings().home / "reports" / "evals"


def model_dir_name(model: str) -> str:
    """`vllm:Qwen/Qwen2.5-7B` → `vllm__Qwen_Qwen2.5-7B`: one folder per model, safe on every file system."""
    provider, _, name = model.partition(":")
    return f"{provider}__{re.sub(r'[^A-Za-z0-9._-]', '_', name)}"


def render_run(conn: psycopg.Connection, run_id: str, out_dir: Path | None = None) -> list[Path]:
    """Write the run's model card and one evaluation report per prompt version; returns the paths written."""
    run = records.run_row(conn, run_id)
    if run is None:
        raise LookupError(f"no eval run {run_id!r} in ticketpilot.eval_runs")
    folder = (out_dir or reports_dir()) / model_dir_name(run["model"])
    folder.mkdir(parents=True, exist_ok=True)
    documents = render_documents(run, records.scores(conn, run_id), records.results(conn, run_id))
    written = []
    for name, text in documents.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def render_documents(run: dict[str, Any], scores: list[dict[str, Any]],
                     results: list[dict[str, Any]]) -> dict[str, str]:
    """File name → Markdown, from the rows alone."""
    header = _run_facts(run)
    scores = [{**s, "report": f"{s['prompt_version']}.md", "mean_score": _score(s["mean_score"]),
               "cost_usd": _usd(s["cost_usd"])} for s in scores]
    info = ModelInfo.model_validate(run["model_info"])
    totals = {"calls": sum(r["calls"] for r in results), "tokens_in": sum(r["tokens_in"] for r in results),
              "tokens_out": sum(r["tokens_out"] for r in results),
              "cost_usd": _usd(sum((r["cost_usd"] for r in results), start=Decimal(0)))}
    weak = [s for s in scores if Decimal(s["mean_score"]) < WEAK_BELOW]
    documents = {CARD_NAME: _ENV.get_template("model_card.md.j2").render(
        run=header, info=info, context=_context(info), boundary=_boundary(run), price=_price(run), totals=totals,
        scores=scores, weak_skills=weak, weak_below=WEAK_BELOW)}
    for summary in scores:
        rows = [{**r, "score": _score(r["score"]), "cost_usd": _usd(r["cost_usd"])} for r in results
                if r["prompt_version"] == summary["prompt_version"]]
        documents[summary["report"]] = _ENV.get_template("eval_report.md.j2").render(
            run=header, skill=summary["skill"], prompt_version=summary["prompt_version"], summary=summary, rows=rows)
    return documents


def _run_facts(run: dict[str, Any]) -> dict[str, Any]:
    provider, _, name = run["model"].partition(":")
    return {**run, "provider": provider, "model_name": name, "started": _utc(run["started_at"]),
            "finished": _utc(run["finished_at"]) if run["finished_at"] else "(not finished)"}


def _context(info: ModelInfo) -> str:
    if info.context_tokens is None:
        return "unknown (not in include/evals/models.yaml)"
    return f"{info.context_tokens:,} tokens"


def _boundary(run: dict[str, Any]) -> str:
    """Which tenant data boundaries let the router use this model (its `_chain` rule), in words."""
    if not run["is_cloud"]:
        return "self-hosted: prompts stay on your infrastructure; usable under every data boundary"
    if run["no_training"]:
        return ("cloud, terms exclude training on API inputs: usable under data boundaries `any` and "
                "`no_training`; PII is redacted before prompts leave")
    return "cloud, training on inputs not excluded: usable under data boundary `any` only; PII is redacted"


def _price(run: dict[str, Any]) -> str:
    if run["input_usd_per_mtok"] is None:
        return "none in ticketpilot.model_prices: free per token (self-hosted)"
    return (f"${run['input_usd_per_mtok'].normalize():f} in / ${run['output_usd_per_mtok'].normalize():f} out per "
            "million tokens (ticketpilot.model_prices when the run started)")


def _usd(value: Decimal) -> str:
    return f"{value:.6f}"


def _score(value: Decimal) -> str:
    return f"{value:.4f}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
