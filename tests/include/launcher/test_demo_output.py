"""What `make demo` prints of a model's work: PO's refined checklist and the docs PR's description paragraph."""

from __future__ import annotations

from pathlib import Path

import psycopg

from include.launcher.demo import _model_lines
from include.scm.local import LocalForge


def test_the_model_written_parts_are_shown(db: psycopg.Connection, forge_dir: Path) -> None:
    forge = LocalForge.from_settings("demo")
    forge.create_repo("svc", {"README.md": "# svc\n"})
    forge.ensure_branch("svc", "tp/1-docs", "main")
    body = ("Changelog, README and ADR updates for AB#1 after PR #1.\n\nPins requests to 2.32.3 so sessions verify "
            "certificates again.\n\n_Description written by llamacpp:smollm2; review it as a draft._")
    pr = forge.open_pr("svc", "tp/1-docs", "main", "[#1] Docs", body, draft=False, workitem_id=1)
    assert _model_lines(forge, "docs", {"docs_pr_id": pr.pr_id}) == [
        "description (Description written by llamacpp:smollm2): Pins requests to 2.32.3 so sessions verify "
        "certificates again."]
    po = {"summary": "3 acceptance checks for bump ticket demo-1 (R1, 1 refined by llamacpp:smollm2)",
          "checklist": [{"text": "Tests pass", "check": "tests"}, {"text": "requests is 2.32.3", "check": "file"}]}
    assert _model_lines(forge, "po_refine", po) == ["- Tests pass", "- requests is 2.32.3"]
    assert _model_lines(forge, "po_refine", {**po, "summary": "3 acceptance checks"}) == []
    assert _model_lines(forge, "docs", {"docs_pr_id": None}) == []
