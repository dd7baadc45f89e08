"""Scorers on known good and bad answers to real goldens: each bad answer loses exactly the marks it should,
and says why in words."""

from __future__ import annotations

import json

import pytest

from include.evals.goldens import Golden
from include.evals.scoring import Score, score_answer


def score(golden: Golden, answer: object) -> Score:
    content = answer if isinstance(answer, str) else json.dumps(answer)
    return score_answer(content, golden.spec.schemas[1], golden.scorers, golden.data, golden.pass_score)


def checks(result: Score) -> dict[str, float]:
    return {f"{c.kind}{i}": c.score for i, c in enumerate(result.checks)}


@pytest.fixture
def golden(goldens: list[Golden], request: pytest.FixtureRequest) -> Golden:
    return next(g for g in goldens if g.id == request.param)


@pytest.mark.parametrize("golden", ["po-bump-requests"], indirect=True)
@pytest.mark.parametrize("answer", ["not json at all", {"criteria": "one string"}, {"criteria": []}, {}])
def test_an_answer_the_agent_would_drop_scores_zero(golden: Golden, answer: object) -> None:
    result = score(golden, answer)
    assert (result.score, result.passed, [c.kind for c in result.checks]) == (0.0, False, ["schema"])
    assert result.failure_reason.startswith("schema: does not validate against TicketReading")


@pytest.mark.parametrize("golden", ["po-leaked-stripe-key"], indirect=True)
def test_po_scope_creep_and_repeats_cost_marks(golden: Golden) -> None:
    result = score(golden, {"criteria": [
        "No secret literal remains in invoicing/config.py",  # the ticket's own criterion again
        "The key is read from the STRIPE_API_KEY environment variable",
        "The leaked key is rotated in the Stripe dashboard",  # the ticket says rotation is out of scope
    ]})
    assert checks(result) == {"schema0": 1.0, "keywords1": pytest.approx(2 / 3, abs=1e-4),
                              "novel2": pytest.approx(2 / 3, abs=1e-4), "length3": 1.0, "forbidden4": 0.0}
    assert not result.passed and result.score == pytest.approx((2 / 3 + 2 / 3 + 1 + 0) / 4, abs=1e-4)
    assert "keywords: missing missing / not set / unset / without" in result.failure_reason
    assert "1 of 3 proposals repeat the ticket" in result.failure_reason
    assert "contains 'rotat'" in result.failure_reason


@pytest.mark.parametrize("golden", ["po-invoice-pagination"], indirect=True)
def test_po_more_than_five_criteria_fail_the_length(golden: Golden) -> None:
    result = score(golden, {"criteria": [f"Page {n} of GET /invoices holds at most 50 invoices" for n in range(7)]})
    assert checks(result)["length3"] == 0.0 and "7 items, wanted 2..5" in result.failure_reason


@pytest.mark.parametrize("golden", ["docs-requests-bump"], indirect=True)
def test_docs_keyword_coverage_is_partial_credit(golden: Golden) -> None:
    result = score(golden, {"description": "Updates a dependency in requirements.txt. The requests library is "
                                           "now newer than before."})
    assert checks(result) == {"schema0": 1.0, "keywords1": pytest.approx(1 / 3, abs=1e-4), "length2": 1.0,
                              "forbidden3": 1.0}
    assert not result.passed and "missing 2.32.3, missing" not in result.failure_reason
    assert "missing 2.32.3, cve-2024-35195 / certificate* / verif* / vulnerab* / security" in result.failure_reason


@pytest.mark.parametrize("golden", ["docs-requests-bump"], indirect=True)
def test_docs_markdown_and_a_made_up_version_are_forbidden(golden: Golden) -> None:
    result = score(golden, {"description": "- Upgrades requests to 2.32.3 for a security fix.\n- See "
                                           "https://example.org for 2.33 plans."})
    assert checks(result)["forbidden3"] == 0.0
    assert "'- '" in result.failure_reason and "'https://'" in result.failure_reason
    assert "'2.33'" in result.failure_reason


@pytest.mark.parametrize("golden", ["docs-unused-imports"], indirect=True)
def test_docs_one_sentence_is_too_short(golden: Golden) -> None:
    result = score(golden, {"description": "Removes unused imports (F401, ruff) from totals.py; behaviour is "
                                           "unchanged"})
    assert checks(result)["length2"] == 0.0 and "1 sentences, wanted 2..4" in result.failure_reason


@pytest.mark.parametrize("golden", ["review-webhook-secret"], indirect=True)
def test_review_without_the_secret_risk_fails(golden: Golden) -> None:
    result = score(golden, {"summary": "The PR verifies the Stripe-Signature header and rejects bad signatures "
                                       "with HTTP 400.", "risks": []})
    assert checks(result) == {"schema0": 1.0, "keywords1": 1.0, "keywords2": 0.0, "length3": 0.0}
    assert not result.passed


@pytest.mark.parametrize("golden", ["review-requests-bump"], indirect=True)
def test_review_invented_risks_are_caught(golden: Golden) -> None:
    result = score(golden, {"summary": "Pins requests at 2.32.3.", "risks": [
        "Possible SQL injection in requirements.txt", "A hard-coded secret may leak", "Unpinned transitive deps"]})
    assert checks(result) == {"schema0": 1.0, "keywords1": 1.0, "length2": 0.0, "length3": 1.0, "forbidden4": 0.0}


@pytest.mark.parametrize("golden", ["dev-vat-once-per-invoice"], indirect=True)
def test_dev_edits_that_do_not_apply_score_nothing_for_the_change(golden: Golden) -> None:
    result = score(golden, {"summary": "Round VAT once per invoice.", "edits": [
        {"action": "replace", "path": "invoicing/totals.py", "search": "return sum(vat(l, rate) for l in lines)",
         "replace": "return vat(sum(lines), rate)"}]})
    assert checks(result) == {"schema0": 1.0, "edits_apply1": 0.0, "check_passes2": 0.0, "paths_allowed3": 1.0}
    assert result.score == 0.25 and "the search text does not occur in invoicing/totals.py" in result.failure_reason


@pytest.mark.parametrize("golden", ["dev-vat-once-per-invoice"], indirect=True)
def test_dev_weakening_the_visible_test_does_not_pass_the_hidden_one(golden: Golden) -> None:
    result = score(golden, {"summary": "Relax the test to the current behaviour.", "edits": [
        {"action": "replace", "path": "tests/test_totals.py",
         "search": 'assert invoice_vat([Decimal("0.50")], Decimal("0.19")) == Decimal("0.10")',
         "replace": "assert True"}]})
    assert checks(result) == {"schema0": 1.0, "edits_apply1": 1.0, "check_passes2": 0.0, "paths_allowed3": 1.0}
    assert "test_eval_vat.py::test_vat_is_rounded_once_per_invoice" in result.failure_reason


@pytest.mark.parametrize("golden", ["dev-unused-imports"], indirect=True)
def test_dev_edits_outside_the_ticket_and_breaking_the_module_fail(golden: Golden) -> None:
    result = score(golden, {"summary": "Drop all imports and note it.", "edits": [
        {"action": "replace", "path": "invoicing/totals.py",
         "search": "import json\nimport os\nfrom decimal import ROUND_HALF_UP, Decimal\n", "replace": ""},
        {"action": "create", "path": "NOTES.md", "content": "imports removed\n"}]})
    assert checks(result) == {"schema0": 1.0, "edits_apply1": 1.0, "check_passes2": 0.0, "paths_allowed3": 0.0}
    assert "NameError" in result.failure_reason
    assert "edits NOTES.md outside invoicing/totals.py" in result.failure_reason


@pytest.mark.parametrize("golden", ["dev-bump-requests"], indirect=True)
def test_dev_a_path_out_of_the_repository_is_a_schema_failure(golden: Golden) -> None:
    result = score(golden, {"summary": "Bump requests.", "edits": [
        {"action": "replace", "path": "../requirements.txt", "search": "requests==2.31.0",
         "replace": "requests==2.32.3"}]})
    assert result.score == 0.0 and "must not contain '..'" in result.failure_reason
