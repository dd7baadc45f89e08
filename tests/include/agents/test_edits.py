"""Structured edits on their own: what the schema refuses, what the working copy refuses, and which files a
model is shown. No model and no database: the plans are written here, the working copy is the demo repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from include.agents import excerpts, llm
from include.agents.edits import MAX_EDITS, MAX_TEXT_CHARS, EditError, EditPlan, planned_changes, write_changes
from include.agents.errors import AgentError
from include.agents.model_edits import CONTEXT_CHARS_ENV, EditBudget
from include.agents.prose import grounded, is_sentence, no_placeholder
from include.scm import FileChange

SUMMARY = "Adds an optional discount to invoices."
TAX_LINE = '    tax_rate: Decimal = Decimal("0.19")\n'
SUBTOTAL = "        return sum(item.total_cents for item in self.items)\n"


def plan(*edits: dict[str, str]) -> EditPlan:
    return EditPlan.model_validate({"edits": list(edits), "summary": SUMMARY})


def replace(path: str, search: str, new: str) -> dict[str, str]:
    return {"action": "replace", "path": path, "search": search, "replace": new}


def test_a_valid_plan_becomes_file_changes_without_writing(demo_dir: Path) -> None:
    before = (demo_dir / "invoicing/totals.py").read_text()
    changes = planned_changes(demo_dir, plan(
        replace("invoicing/totals.py", TAX_LINE, TAX_LINE + "    discount_cents: int = 0\n"),
        replace("invoicing/totals.py", SUBTOTAL, SUBTOTAL.replace(")\n", ") - self.discount_cents\n")),
        {"action": "create", "path": "tests/test_discount.py", "content": "def test_x():\n    pass\n"},
        {"action": "delete", "path": "invoicing/config.py"},
    ))
    assert [c.path for c in changes] == ["invoicing/totals.py", "tests/test_discount.py", "invoicing/config.py"]
    totals = changes[0].content or ""
    assert "    discount_cents: int = 0\n" in totals and "self.items) - self.discount_cents\n" in totals
    assert changes[2].content is None
    assert (demo_dir / "invoicing/totals.py").read_text() == before, "planning writes nothing"
    write_changes(demo_dir, changes)
    assert (demo_dir / "invoicing/totals.py").read_text() == totals
    assert (demo_dir / "tests/test_discount.py").read_text() == "def test_x():\n    pass\n"
    assert not (demo_dir / "invoicing/config.py").exists()


@pytest.mark.parametrize(("path", "reason"), [
    ("../outside.py", "must not contain '..'"),
    ("invoicing/../../outside.py", "must not contain '..'"),
    ("./invoicing/totals.py", "must not contain '..', '.' or empty parts"),
    ("invoicing//totals.py", "must not contain '..', '.' or empty parts"),
    ("/etc/passwd", "must be relative to the repository root"),
    ("C:/Windows/win.ini", "must be relative to the repository root"),
    ("invoicing\\totals.py", "must be relative to the repository root"),
    (" invoicing/totals.py", "must be relative to the repository root"),
    (".git/config", "is inside .git, which edits never touch"),
    ("src/__pycache__/x.pyc", "is inside __pycache__, which edits never touch"),
])
def test_paths_must_stay_inside_the_repository(path: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(".", r"\.")):
        plan({"action": "delete", "path": path})


@pytest.mark.parametrize(("edit", "reason"), [
    ({"action": "replace", "path": "a.py", "content": "x"},
     "a 'replace' edit of a.py takes 'replace', 'search', got content"),
    ({"action": "create", "path": "a.py", "search": "x", "replace": "y"},
     "a 'create' edit of a.py takes 'content', got replace, search"),
    ({"action": "delete", "path": "a.py", "content": ""}, "a 'delete' edit of a.py takes no text field, got content"),
    ({"action": "replace", "path": "a.py", "search": "x", "replace": "x"}, "replaces the search text with itself"),
    ({"action": "replace", "path": "a.py", "search": "  \n", "replace": "x"}, "has a blank search text"),
    ({"action": "rename", "path": "a.py"}, "Input should be 'create', 'replace' or 'delete'"),
    ({"action": "delete", "path": "a.py", "mode": "0755"}, "Extra inputs are not permitted"),
])
def test_fields_must_fit_the_action(edit: dict[str, str], reason: str) -> None:
    with pytest.raises(ValidationError) as error:
        plan(edit)
    assert reason in str(error.value)


def test_sizes_are_capped() -> None:
    with pytest.raises(ValidationError, match=f"at most {MAX_TEXT_CHARS} characters"):
        plan({"action": "create", "path": "big.py", "content": "x" * (MAX_TEXT_CHARS + 1)})
    with pytest.raises(ValidationError, match=f"at most {MAX_EDITS} items"):
        plan(*({"action": "delete", "path": f"f{i}.py"} for i in range(MAX_EDITS + 1)))
    with pytest.raises(ValidationError, match="the edits carry 40002 characters of text; at most 40000"):
        plan(*({"action": "create", "path": f"f{i}.py", "content": "x" * 20_000} for i in range(2)),
             {"action": "create", "path": "g.py", "content": "xy"})
    with pytest.raises(ValidationError, match="is deleted and edited again in the same plan"):
        plan({"action": "delete", "path": "a.py"}, replace("a.py", "x", "y"))


@pytest.mark.parametrize(("edit", "reason"), [
    (replace("invoicing/totals.py", "def total(self):\n", "x"),
     "edit 1 (replace 'def total(self):' in invoicing/totals.py): the search text does not occur in "
     "invoicing/totals.py"),
    (replace("invoicing/totals.py", "@property\n  def tax_cents(self) -> int:\n", "x"),
     "edit 1 (replace '@property def tax_cents(self) -> int:' in invoicing/totals.py): the search text does not "
     "occur in invoicing/totals.py (its line '@property' is there, so the lines around it differ: copy them "
     "exactly, with their indentation)"),
    (replace("invoicing/totals.py", "    @property\n", "x"),
     "edit 1 (replace '@property' in invoicing/totals.py): the search text occurs 4 times in invoicing/totals.py; "
     "include more of the surrounding lines so it occurs exactly once"),
    (replace("invoicing/missing.py", "x", "y"),
     "edit 1 (replace 'x' in invoicing/missing.py): invoicing/missing.py does not exist; only a 'create' edit "
     "can make a new file"),
    ({"action": "create", "path": "README.md", "content": "# new\n"},
     "edit 1 (create README.md): README.md already exists; change it with a 'replace' edit"),
    ({"action": "delete", "path": "nothing.txt"},
     "edit 1 (delete nothing.txt): nothing.txt does not exist; only a 'create' edit can make a new file"),
    ({"action": "delete", "path": "invoicing"}, "edit 1 (delete invoicing): invoicing is a folder, not a file"),
    ({"action": "create", "path": "README.md/notes.md", "content": "x"},
     "edit 1 (create README.md/notes.md): README.md is a file, not a folder"),
])
def test_edits_that_do_not_apply_name_the_edit_and_the_reason(demo_dir: Path, edit: dict[str, str],
                                                               reason: str) -> None:
    with pytest.raises(EditError) as error:
        planned_changes(demo_dir, plan(edit))
    assert str(error.value) == reason


def test_edits_apply_in_order_and_a_later_search_sees_the_earlier_edit(demo_dir: Path) -> None:
    first = replace("invoicing/totals.py", TAX_LINE, TAX_LINE + "    discount_cents: int = 0\n")
    [change] = planned_changes(demo_dir, plan(first, replace("invoicing/totals.py", "int = 0\n", "int = 5\n")))
    assert TAX_LINE + "    discount_cents: int = 5\n" in (change.content or "")
    gone = replace("invoicing/totals.py", TAX_LINE, "")
    with pytest.raises(EditError, match="^edit 2 .*: the search text does not occur in invoicing/totals.py"):
        planned_changes(demo_dir, plan(gone, replace("invoicing/totals.py", TAX_LINE, "    x: int = 1\n")))


def test_symbolic_links_are_never_followed(demo_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_text("secret = 1\n")
    (demo_dir / "vendor").symlink_to(outside)
    with pytest.raises(EditError, match="vendor is a symbolic link; edits only change regular files"):
        planned_changes(demo_dir, plan(replace("vendor/x.py", "secret = 1", "secret = 2")))
    assert (outside / "x.py").read_text() == "secret = 1\n"


def test_a_plan_that_changes_nothing_is_rejected(demo_dir: Path) -> None:
    text = (demo_dir / "requirements.txt").read_text()
    back = [replace("requirements.txt", text, "x\n"), replace("requirements.txt", "x\n", text)]
    with pytest.raises(EditError, match="the edits leave every file as it is"):
        planned_changes(demo_dir, plan(*back))


def test_the_fix_loop_may_not_delete_tests(demo_dir: Path) -> None:
    drop = plan({"action": "delete", "path": "tests/test_totals.py"})
    assert planned_changes(demo_dir, drop)[0].content is None
    with pytest.raises(EditError, match="the fix may not delete the test file tests/test_totals.py"):
        planned_changes(demo_dir, drop, keep_tests=True)


def test_files_named_by_the_ticket_come_first_then_what_they_import(demo_dir: Path) -> None:
    text = "Add a discount to invoicing/totals.py; tests/test_totals.py covers it. See README.md."
    view = excerpts.select(demo_dir, text, 10_000)
    assert list(view.shown) == ["invoicing/totals.py", "tests/test_totals.py", "README.md", "requirements.txt",
                                "tests/test_client.py"], "named in order, what README.md names, the tests of totals"
    assert view.shown["invoicing/totals.py"] == (demo_dir / "invoicing/totals.py").read_text()
    assert view.listing.splitlines() == sorted(view.listing.splitlines()) and "pyproject.toml" in view.listing
    failing = "FAILED tests/test_client.py::test_charge_request_carries_amount_and_auth - AssertionError"
    imported = excerpts.select(demo_dir, failing, 10_000, prefer=["requirements.txt"])
    assert list(imported.shown) == ["tests/test_client.py", "requirements.txt", "invoicing/totals.py",
                                    "invoicing/client.py"]


def test_files_are_shown_whole_or_not_at_all_within_the_budget(demo_dir: Path) -> None:
    text = "pyproject.toml and requirements.txt"
    assert list(excerpts.select(demo_dir, text, 10_000).shown) == ["pyproject.toml", "requirements.txt"]
    view = excerpts.select(demo_dir, text, 380)
    assert view.listing.splitlines()[-1] == "... and 5 more files" and len(view.listing) == 105
    assert list(view.shown) == ["requirements.txt"], "pyproject.toml (293 characters) does not fit: left out, not cut"
    assert view.size <= 380


def test_without_named_files_the_likeliest_are_shown(demo_dir: Path) -> None:
    view = excerpts.select(demo_dir, "Invoices should round their tax in cents per line item", 10_000)
    assert list(view.shown) == ["invoicing/totals.py", "README.md", "tests/test_totals.py"]
    assert len(view.shown) == excerpts.MAX_LIKELY


def test_quoted_blocks_share_the_budget_short_ones_whole() -> None:
    assert llm._shares([10, 5000, 40], 3000) == [10, 2950, 40]
    assert llm._shares([2000, 2000], 3000) == [1500, 1500]
    quoted = llm._quoted({"short": "x" * 10, "long": "y" * 5000}, 3000)
    assert "x" * 10 + "\n" in quoted and "y" * 2990 + " [truncated]" in quoted and "y" * 2991 not in quoted


def test_the_edit_budget_comes_from_the_models_context_window() -> None:
    local = llm.LlmConfig(model="llamacpp:smollm2-135m-instruct")
    budget = EditBudget.for_model(local, {})
    assert 1500 <= budget.context_chars <= 3000 and budget.answer_tokens == 700  # 2k tokens in all
    cloud = EditBudget.for_model(llm.LlmConfig(model="anthropic:claude-sonnet-4-5"), {})
    assert cloud.context_chars == 100_000 * llm.CHARS_PER_TOKEN and cloud.answer_tokens == 4000
    unknown = EditBudget.for_model(llm.LlmConfig(model="vllm:my-finetune"), {})
    assert budget.context_chars < unknown.context_chars < cloud.context_chars
    assert EditBudget.for_model(local, {CONTEXT_CHARS_ENV: "60000"}).answer_tokens == 4000
    with pytest.raises(AgentError, match=f"{CONTEXT_CHARS_ENV}='lots' must be a whole number"):
        EditBudget.for_model(local, {CONTEXT_CHARS_ENV: "lots"})


def test_the_plan_schema_round_trips_as_the_prompt_shows_it() -> None:
    shown = {"edits": [{"action": "replace", "path": "a.py", "search": "x", "replace": "y"}],
             "summary": "one sentence: what the edits do"}
    assert EditPlan.model_validate_json(json.dumps(shown)).edits[0].describe() == "replace 'x' in a.py"
    assert FileChange(path="a.py") == FileChange(path="a.py", content=None)


@pytest.mark.parametrize("text", ["<first checkable sentence>", " <one sentence: what the edits do>",
                                  "<one paragraph of text to be edited and added to the document"])
def test_a_copied_placeholder_is_not_an_answer(text: str) -> None:
    with pytest.raises(ValueError, match="is the instructions' placeholder: write the text itself"):
        no_placeholder(text)


@pytest.mark.parametrize("text", ["Pins requests to 2.32.3", "Escapes <br> in the template", "uses a < b > c",
                                  "List<String> stays generic", '<a href="x">link</a> is kept', "<br> first",
                                  "zips into /var/exports/<customer name>.zip"])
def test_ordinary_prose_with_angle_brackets_passes(text: str) -> None:
    assert no_placeholder(text) == text


@pytest.mark.parametrize(("text", "sentence"), [
    ("1.0.23.6", False), ("https://github.com/acme/azure-pipelines-testsuite:v4.5.7", False),
    ("the_test_suite_passes", False), ("f8b52d413a7c", False),
    ("The lock file matches the new pin exactly", True), ("requirements.txt pins requests==2.32.3", True)])
def test_a_criterion_must_read_as_a_sentence(text: str, sentence: bool) -> None:
    assert is_sentence(text) is sentence


def test_a_description_must_be_about_the_change() -> None:
    source = "Bump requests to 2.32.3 requirements.txt pins requests 2.31.0, affected by CVE-2024-35195"
    assert grounded("Pins requests to 2.32.3 in requirements.txt to close CVE-2024-35195.", source, at_least=2)
    assert not grounded("The new feature is a great idea, but it has some issues.", source, at_least=2)
