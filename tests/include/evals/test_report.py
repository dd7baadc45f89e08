"""Model cards and evaluation reports rendered from the rows of a real run, and the command line around them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from include.agents.llm import PROMPTS_DIR
from include.evals import records
from include.evals.__main__ import main
from include.evals.goldens import Golden
from include.evals.report import CARD_NAME, model_dir_name, render_documents, render_run
from include.evals.runner import EvalTarget, run_evals
from include.settings import get_settings
from model_serving.local import MODEL_SPEC
from model_serving.local.server import CONTEXT_TOKENS
from tests.include.evals.conftest import MODEL, ScriptedModel


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    """Prompts for two skills only, so the card also shows skipped ones."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name in ("po_refine.v1.0.0.md", "docs_pr_description.v1.0.0.md"):
        shutil.copy(PROMPTS_DIR / name, folder / name)
    return folder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


@pytest.fixture
def smollm_run(scripted: ScriptedModel, goldens: list[Golden], prompts: Path, tenant: str,
               db: psycopg.Connection) -> str:
    """The local model's name served by the emulator: PO answers are the references but for one vague answer,
    Docs answers are never valid, so the card has a strong skill, a weak one and two skipped."""
    for golden in goldens:
        if golden.skill == "po_refine":
            scripted.answer(golden.id, golden.reference)
    scripted.answer("po-ci-pipeline", {"criteria": ["The pipeline works"]})
    target = EvalTarget(model=MODEL_SPEC, base_url=f"{scripted.emulator.url}/v1")
    return run_evals(target, tenant=tenant, prompts_dir=prompts, trigger="airflow:scheduled__2026").run_id


def test_the_card_says_what_the_rows_say(smollm_run: str, db: psycopg.Connection, tmp_path: Path) -> None:
    paths = render_run(db, smollm_run, tmp_path / "reports")
    folder = tmp_path / "reports" / "llamacpp__smollm2-135m-instruct"
    assert paths == [folder / CARD_NAME, folder / "docs_pr_description.v1.0.0.md", folder / "po_refine.v1.0.0.md"]
    card = paths[0].read_text(encoding="utf-8")
    run = records.run_row(db, smollm_run)
    assert card.startswith(f"# Model card: {MODEL_SPEC}\n\nFrom evaluation run `{smollm_run}`")
    assert "started by `airflow:scheduled__2026`" in card
    assert "| Provider | `llamacpp` |\n| Model | `smollm2-135m-instruct` |\n" in card
    assert f"| Context | {CONTEXT_TOKENS:,} tokens |" in card
    assert ("| Data boundary | self-hosted: prompts stay on your infrastructure; usable under every data "
            "boundary |") in card
    assert "| Price | none in ticketpilot.model_prices: free per token (self-hosted) |" in card
    assert "## Intended use\n\nThe embedded default model" in card
    assert "- Served with a 2,048-token context" in card
    assert "- Scores 0.0000 on docs_pr_description with prompt docs_pr_description.v1.0.0 (below 0.5)" in card
    rows = records.results(db, smollm_run)
    po = [r for r in rows if r["skill"] == "po_refine"]
    cost = sum(r["cost_usd"] for r in rows)
    assert f"| This run | {sum(r['calls'] for r in rows)} calls, " in card and f"${cost:.6f} |" in card
    assert (f"| po_refine | `po_refine.v1.0.0` | {len(po) - 1} / {len(po)} | "
            f"{sum(r['score'] for r in po) / len(po):.4f} |") in card
    assert "[po_refine.v1.0.0.md](po_refine.v1.0.0.md) |" in card
    assert ("- review_summary: skipped: no prompt review_summary yet\n"
            "- dev_edits: skipped: no prompt dev_edits yet") in card
    assert run["status"] == "complete" and "Run error" not in card


def test_the_report_has_one_line_per_golden(smollm_run: str, db: psycopg.Connection, tmp_path: Path) -> None:
    render_run(db, smollm_run, tmp_path)
    report = (tmp_path / model_dir_name(MODEL_SPEC) / "po_refine.v1.0.0.md").read_text(encoding="utf-8")
    assert report.startswith(f"# Evaluation report: {MODEL_SPEC} with `po_refine.v1.0.0`\n")
    lines = [line for line in report.splitlines() if line.startswith("| `")]
    rows = [r for r in records.results(db, smollm_run) if r["skill"] == "po_refine"]
    assert [line.split("`")[1] for line in lines] == [r["golden_id"] for r in rows]
    bad = next(line for line in lines if line.startswith("| `po-ci-pipeline`"))
    row = next(r for r in rows if r["golden_id"] == "po-ci-pipeline")
    assert f"| {row['score']:.4f} | no | {row['latency_ms']} | {row['cost_usd']:.6f} |" in bad
    assert "keywords: missing push*" in bad and "length: 1 items, wanted 2..5" in bad
    good = next(line for line in lines if line.startswith("| `po-bump-requests`"))
    assert "| 1.0000 | yes |" in good and good.endswith(" | 1 | - |")


def test_a_failure_reason_never_breaks_the_table(smollm_run: str, db: psycopg.Connection) -> None:
    rows = records.results(db, smollm_run)
    rows[0] = {**rows[0], "failure_reason": "no answer: a | b\nc"}
    report = render_documents(records.run_row(db, smollm_run), records.scores(db, smollm_run), rows)[
        f"{rows[0]['prompt_version']}.md"]
    line = next(line for line in report.splitlines() if line.startswith(f"| `{rows[0]['golden_id']}`"))
    assert line.endswith("| no answer: a \\| b c |") and line.count("|") - line.count("\\|") == 9


def test_rendering_is_deterministic(smollm_run: str, db: psycopg.Connection, tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in render_run(db, smollm_run, tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in render_run(db, smollm_run, tmp_path / "b")}
    assert first == second and len(first) == 3


def test_a_cloud_model_card_names_its_boundary_and_price(smollm_run: str, db: psycopg.Connection) -> None:
    run = records.run_row(db, smollm_run)
    cloud = {**run, "model": "openai:gpt-4o-mini", "is_cloud": True, "no_training": True,
             "input_usd_per_mtok": Decimal("0.150000"), "output_usd_per_mtok": Decimal("0.600000")}
    card = render_documents(cloud, records.scores(db, smollm_run), records.results(db, smollm_run))[CARD_NAME]
    assert "usable under data boundaries `any` and `no_training`; PII is redacted" in card
    assert "| Price | $0.15 in / $0.6 out per million tokens (ticketpilot.model_prices when the run started) |" in card
    training = render_documents({**cloud, "no_training": False}, [], [])[CARD_NAME]
    assert "usable under data boundary `any` only" in training and "No skill was evaluated in this run." in training


def test_the_command_line_runs_records_and_renders(scripted: ScriptedModel, goldens: list[Golden], home: Path,
                                                   db: psycopg.Connection, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_EVAL_TENANT", "evalcli")
    for golden in goldens:
        scripted.answer(golden.id, golden.reference)
    assert main(["run", "--model", MODEL, "--base-url", scripted.emulator.url, "--skill", "review_summary",
                 "--latest"]) == 0
    out = capsys.readouterr().out
    assert "review_summary review_summary.v1.0.0: 5/5 passed, mean score 1.0000" in out
    card = home / "reports" / "evals" / "vllm__eval-model" / CARD_NAME
    assert f"  wrote {card}" in out and "Not catalogued: add vllm:eval-model" in card.read_text(encoding="utf-8")
    card.unlink()
    assert main(["render", "--model", MODEL]) == 0 and card.is_file()
    assert main(["render", "--model", "vllm:never-evaluated"]) == 2
    assert main(["run", "--model", "gpt-4o-mini"]) == 2, "a model is always written provider:model"
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "dev_edits: 5 goldens; prompts: dev_edits.v1.0.0\n  dev-bump-requests\n" in listing
    ledger = db.execute("SELECT count(*) AS n FROM tenant_evalcli.calls WHERE step = 'eval:review_summary'").fetchone()
    assert ledger["n"] >= 5
