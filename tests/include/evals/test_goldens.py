"""The goldens load and validate, each reference answer scores full marks, and each Dev golden's check fails
on the untouched files (a golden that passes without any edit measures nothing). Broken goldens are refused
with the file and the reason."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from include.evals import edits
from include.evals.goldens import GOLDENS_DIR, Golden, GoldenError, load_golden, load_goldens
from include.evals.schemas import DevEditsInput
from include.evals.scoring import score_answer
from include.evals.skills import SKILLS

GOLDEN_IDS = sorted(path.stem for path in GOLDENS_DIR.glob("*/*.yaml"))


def test_every_skill_has_four_to_six_goldens(goldens: list[Golden]) -> None:
    counts = Counter(golden.skill for golden in goldens)
    assert set(counts) == set(SKILLS) == {"po_refine", "docs_pr_description", "review_summary", "dev_edits"}
    assert all(4 <= n <= 6 for n in counts.values()), counts
    assert len({g.id for g in goldens}) == len(goldens) == len(GOLDEN_IDS)


@pytest.mark.parametrize("golden_id", GOLDEN_IDS)
def test_the_reference_answer_scores_full_marks(goldens: list[Golden], golden_id: str) -> None:
    golden = next(g for g in goldens if g.id == golden_id)
    schema = golden.spec.schemas[golden.spec.reference_major]
    score = score_answer(json.dumps(golden.reference), schema, golden.scorers, golden.data, golden.pass_score)
    assert (score.score, score.passed, score.failure_reason) == (1.0, True, "")
    assert [c.kind for c in score.checks] == ["schema", *(s.kind for s in golden.scorers)]


@pytest.mark.parametrize("golden_id", [g for g in GOLDEN_IDS if g.startswith("dev-")])
def test_a_dev_golden_fails_its_check_without_edits(goldens: list[Golden], golden_id: str) -> None:
    data = next(g for g in goldens if g.id == golden_id).data
    assert isinstance(data, DevEditsInput)
    outcome = edits.run_check(data.files, None, data.check_files, data.check, data.check_timeout_s)
    assert not outcome.passed and "exited" in outcome.detail


def test_the_model_sees_each_golden_whole(goldens: list[Golden]) -> None:
    for golden in goldens:
        message = golden.spec.quoted(golden.data)
        assert "[truncated]" not in message, golden.id
        if isinstance(golden.data, DevEditsInput):
            for path, content in golden.data.files.items():
                assert not content or f'label="file {path}"' in message, (golden.id, path)
            assert all(path not in message for path in golden.data.check_files), "hidden files stay hidden"


def write_golden(root: Path, data: dict) -> Path:
    path = root / data["skill"] / f"{data['id']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def po_golden() -> dict:
    return yaml.safe_load((GOLDENS_DIR / "po_refine" / "po-bump-requests.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("change", "reason"), [
    (lambda g: g.update(skill="po_rewrite"), "unknown skill 'po_rewrite'"),
    (lambda g: g["reference"].update(criteria="one string"), "valid list"),
    (lambda g: g["scorers"].append({"kind": "length", "field": "items", "unit": "items"}), "TicketReading lacks"),
    (lambda g: g["scorers"].append({"kind": "check_passes"}), "for dev_edits goldens only"),
    (lambda g: g["scorers"].append({"kind": "forbidden", "field": "criteria", "patterns": ["("]}), "unterminated"),
    (lambda g: g["input"]["ticket"].update(description="x" * 5000), "truncated"),
    (lambda g: g["scorers"].append({"kind": "lenght", "field": "criteria"}), "does not match any of the expected tags"),
])
def test_a_broken_golden_is_refused_with_its_file(tmp_path: Path, po_golden: dict, change, reason: str) -> None:
    change(po_golden)
    path = write_golden(tmp_path, po_golden)
    with pytest.raises(GoldenError, match=str(path.name)) as caught:
        load_golden(path)
    assert reason in str(caught.value)


def test_a_golden_lives_under_its_skill_and_id(tmp_path: Path, po_golden: dict) -> None:
    path = tmp_path / "docs_pr_description" / "bump.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(po_golden), encoding="utf-8")
    with pytest.raises(GoldenError, match="goldens/<skill>/<id>.yaml"):
        load_golden(path)


def test_a_dev_file_the_agent_would_not_show_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((GOLDENS_DIR / "dev_edits" / "dev-vat-once-per-invoice.yaml").read_text(encoding="utf-8"))
    data["input"]["files"]["invoicing/unrelated.py"] = "X = 1\n"
    with pytest.raises(GoldenError, match="would not show the model invoicing/unrelated.py"):
        load_golden(write_golden(tmp_path, data))


def test_unknown_skills_and_reused_ids_are_refused(tmp_path: Path, po_golden: dict) -> None:
    with pytest.raises(GoldenError, match="unknown skills"):
        load_goldens(["po_rewrite"])
    write_golden(tmp_path, po_golden)
    assert [g.id for g in load_goldens(["po_refine"], root=tmp_path)] == ["po-bump-requests"]
    docs = yaml.safe_load((GOLDENS_DIR / "docs_pr_description" / "docs-requests-bump.yaml").read_text("utf-8"))
    write_golden(tmp_path, {**docs, "id": "po-bump-requests"})
    with pytest.raises(GoldenError, match="'po-bump-requests' is used twice"):
        load_goldens(["po_refine", "docs_pr_description"], root=tmp_path)
