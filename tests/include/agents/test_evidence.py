"""Acceptance criteria become evidence, on the demo repository with its real defects and the real scanners."""

from __future__ import annotations

from pathlib import Path

from include.agents import evidence, po
from include.contracts.agent import AcceptanceItem
from include.contracts.evidence import CriterionStatus as S
from include.demo.tickets import DEMO_WORK_ITEMS

CRITERIA = [AcceptanceItem(text=text, check=check) for text, check in (
    ("azure-pipelines.yml exists at the repository root", "file"),
    ("requirements.txt pins requests==2.32.3", "file"),
    ("No secret literal remains in invoicing/config.py", "scan"),
    ("ruff check reports no F401 findings", "review"),
    ("The test suite passes", "tests"),
    ("CHANGELOG.md has an entry for this ticket under [Unreleased]", "docs"),
    ("The key is read from an environment variable", "review"),
    ("`sk_live_` no longer occurs in the code", "scan"),
    ("test_vat_is_rounded_once_per_invoice passes", "tests"),
)]


def statuses(workdir: Path, tests_passed: bool | None) -> list[S]:
    context = evidence.Context(workdir=workdir, changed=["invoicing/config.py", "invoicing/totals.py"],
                               tests_passed=tests_passed)
    return [e.status for e in evidence.verify(CRITERIA, context)]


def test_the_demo_repository_as_seeded_meets_none_of_the_checkable_criteria(demo_dir: Path) -> None:
    assert statuses(demo_dir, tests_passed=False) == [S.UNMET, S.UNMET, S.UNMET, S.UNMET, S.UNMET, S.AFTER_MERGE,
                                                     S.PERSON, S.UNMET, S.UNMET]


def test_the_fixed_repository_meets_them_with_the_evidence_named(demo_dir: Path) -> None:
    (demo_dir / "azure-pipelines.yml").write_text("trigger: [main]\n")
    requirements = demo_dir / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("requests==2.31.0", "requests==2.32.3"))
    (demo_dir / "invoicing/config.py").write_text('import os\n\n\ndef api_key() -> str:\n    return os.environ["K"]\n')
    totals = demo_dir / "invoicing/totals.py"
    totals.write_text("".join(line for line in totals.read_text().splitlines(keepends=True)
                              if not line.startswith(("import ", "from ")) or "decimal" in line.lower()))
    (demo_dir / "tests/test_named.py").write_text("def test_vat_is_rounded_once_per_invoice():\n    assert 1\n")
    found = evidence.verify(CRITERIA, evidence.Context(workdir=demo_dir, changed=["invoicing/config.py"],
                                                       tests_passed=True))
    assert [e.status for e in found] == [S.MET, S.MET, S.MET, S.MET, S.MET, S.AFTER_MERGE, S.PERSON, S.MET, S.MET]
    assert found[1].evidence == "pinned in requirements.txt"
    assert "detect-secrets finds nothing in invoicing/config.py" in found[2].evidence
    body = evidence.comment_body(found)
    assert body.count("✅ met") == 7 and "blocks the merge" not in body


def test_an_unmet_criterion_names_what_was_found(demo_dir: Path) -> None:
    found = evidence.verify(CRITERIA[1:3], evidence.Context(workdir=demo_dir, changed=[], tests_passed=None))
    assert "requests==2.32.3 is in none of requirements.txt" in found[0].evidence
    assert found[1].evidence == "detect-secrets still finds a secret at invoicing/config.py:4"
    assert "blocks the merge of R1 and above" in evidence.comment_body(found)


def test_every_demo_criterion_is_recognised_or_left_to_a_person(demo_dir: Path) -> None:
    items = [AcceptanceItem(text=text, check=po.check_for(text))  # as the PO step tags them
             for item in DEMO_WORK_ITEMS for text in item.acceptance_criteria]
    found = evidence.verify(items, evidence.Context(workdir=demo_dir, changed=[], tests_passed=True))
    assert {e.status for e in found} <= set(S)
    assert sum(e.status is S.PERSON for e in found) <= 3, [(e.text, e.status) for e in found]


def test_the_pos_implied_bump_check_reads_every_declaration(demo_dir: Path) -> None:
    item = [AcceptanceItem(text="requests is pinned at 2.32.3", check="file")]
    context = evidence.Context(workdir=demo_dir, changed=[], tests_passed=True)
    assert evidence.verify(item, context)[0].evidence == ("requests 2.32.3: still excluded by requirements.txt: "
                                                          "requests==2.31.0")
    requirements = demo_dir / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("requests==2.31.0", "requests==2.32.3"))
    (demo_dir / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["requests>=2.0"]\n')
    found = evidence.verify(item, context)[0]
    assert (found.status, found.evidence) == (S.MET, "requests==2.32.3 in requirements.txt")
