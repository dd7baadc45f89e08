"""Each role end to end on the local forge: real bare git repositories, PR rows in the test PostgreSQL,
real ruff/bandit/detect-secrets/pytest subprocesses. Every SCM-writing role also runs twice, and the
second run must add nothing: no commit, PR or comment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from include.agents import dev, docs, pipeline, po, review, testing
from include.agents.errors import AgentError, NeedsModelError
from include.agents.playbooks import changelog
from include.agents.playbooks.pipeline import MARKER
from include.contracts import AgentRole, AgentTask, ChangeKind, RiskClass, Ticket
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.scm import FileChange
from include.scm.local import LocalForge

MakeTicket = Callable[..., Ticket]
Show = Callable[[str, str, str], "str | None"]
PIPELINE, BUMP, SECRET, LINT = 101, 102, 103, 104


def task(ticket: Ticket, role: AgentRole, **upstream: Any) -> AgentTask:
    dumped = {name: result if isinstance(result, dict) else result.model_dump(mode="json")
              for name, result in upstream.items()}
    return AgentTask(role=role, ticket=ticket, run_id="manual__test", upstream=dumped, max_fix_iterations=2,
                     test_timeout_s=120)


def count(db: psycopg.Connection, table: str) -> int:
    return db.execute(f"SELECT count(*) AS n FROM ticketpilot.{table}").fetchone()["n"]  # type: ignore[index]


def merge_dev_pr(forge: LocalForge, pr_id: int) -> None:
    """What the DAG does between review and docs: publish (if review did not) and merge."""
    forge.publish(pr_id)
    forge.merge(pr_id)


def test_po_adds_the_checks_the_change_kind_implies(forge: LocalForge, demo_ticket: MakeTicket) -> None:
    result = po.run(task(demo_ticket(BUMP), AgentRole.PO))
    assert [(item.text, item.check) for item in result.checklist] == [
        ("requirements.txt pins requests==2.32.3", "file"),
        ("The test suite passes", "tests"),
        ("No secrets in the diff", "scan"),
        ("CHANGELOG.md has an entry for this ticket under [Unreleased]", "docs"),
    ]
    assert (result.change_kind, result.risk_class) == ("dependency_bump", RiskClass.R1)


def test_dev_opens_one_draft_pr_for_a_pipeline_ticket(
    forge: LocalForge, demo_ticket: MakeTicket, db: psycopg.Connection
) -> None:
    ticket = demo_ticket(PIPELINE)
    first = dev.run(task(ticket, AgentRole.DEV))
    assert first.branch == "tp/101-add-a-ci-pipeline-for-invoicing-service"
    assert (first.files_changed, first.lines_changed, first.risk_class) == ([], 0, RiskClass.R1)
    assert first.head_commit == forge.head(DEMO_REPO, "main")
    pr = forge.get_pr(first.pr_id)
    assert (pr.is_draft, pr.workitem_id, pr.title) == (True, 101, "[#101] Add a CI pipeline for invoicing-service")
    assert "- [ ] azure-pipelines.yml exists at the repository root _(check: file)_" in pr.description
    assert ticket.url in pr.description
    assert dev.run(task(ticket, AgentRole.DEV)) == first
    assert count(db, "pull_requests") == 1


def test_dev_bumps_the_pin_once(forge: LocalForge, demo_ticket: MakeTicket, show: Show) -> None:
    ticket = demo_ticket(BUMP)
    first = dev.run(task(ticket, AgentRole.DEV))
    assert (first.files_changed, first.lines_changed, first.risk_class) == (["requirements.txt"], 2, RiskClass.R1)
    assert show(DEMO_REPO, first.branch, "requirements.txt") == "requests==2.32.3\n"
    assert show(DEMO_REPO, "main", "requirements.txt") == "requests==2.31.0\n"
    assert first.head_commit != forge.head(DEMO_REPO, "main")
    assert dev.run(task(ticket, AgentRole.DEV)).head_commit == first.head_commit


def test_feature_ticket_fails_before_touching_the_forge(forge: LocalForge, demo_ticket: MakeTicket) -> None:
    ticket = demo_ticket(PIPELINE, change_kind=ChangeKind.FEATURE)
    with pytest.raises(NeedsModelError, match="needs a language model"):
        dev.run(task(ticket, AgentRole.DEV))
    assert forge.head(DEMO_REPO, ticket.branch) is None


def test_secret_ticket_is_fixed_reviewed_clean_and_published(
    forge: LocalForge, demo_ticket: MakeTicket, show: Show
) -> None:
    ticket = demo_ticket(SECRET)
    result = dev.run(task(ticket, AgentRole.DEV))
    assert (result.files_changed, result.risk_class) == ([".env.example", "invoicing/config.py"], RiskClass.R3)
    assert "INVOICING_API_KEY" in result.summary
    assert "rotate it" in forge.get_pr(result.pr_id).description
    assert '_required_env("INVOICING_API_KEY")' in (show(DEMO_REPO, result.branch, "invoicing/config.py") or "")
    assert dev.run(task(ticket, AgentRole.DEV)) == result
    verdict = review.run(task(ticket, AgentRole.REVIEW, dev=result))
    assert (verdict.ok, verdict.blocking, verdict.findings) == (True, False, [])
    assert forge.statuses(result.pr_id)["review"] == "succeeded"
    assert forge.get_pr(result.pr_id).is_draft is False


def test_a_secret_left_for_a_person_is_listed_in_the_pr_with_the_reason(
    forge: LocalForge, demo_ticket: MakeTicket
) -> None:
    """A test fixture holding the same key is not moved (moving it would break the test): the PR says so, where
    the approvers of the R3 change read it, not only the task log."""
    key = next(line.split('"')[1] for line in demo_repo_files()["invoicing/config.py"].splitlines()
               if line.startswith("API_KEY"))
    fixture = f'def test_the_client_takes_a_live_key():\n    assert "{key}".startswith("sk_")\n'
    forge.commit_files(DEMO_REPO, "main", [FileChange(path="tests/test_keys.py", content=fixture)],
                       "a test with a key", "test:fixture")
    result = dev.run(task(demo_ticket(SECRET), AgentRole.DEV))
    assert "invoicing/config.py" in result.files_changed and "tests/test_keys.py" not in result.files_changed
    body = forge.get_pr(result.pr_id).description or ""
    section = body.split("## Secrets left for a person", 1)[1]
    (row,) = [line for line in section.splitlines() if line.startswith("- [ ] ")]
    assert row.startswith("- [ ] `tests/test_keys.py:2` (") and "Stripe Access Key" in row, row
    assert "a test file: its credential is a fixture" in row and "invoicing/config.py" not in section


def test_review_blocks_a_secret_the_pr_adds_and_comments_once(
    forge: LocalForge, demo_ticket: MakeTicket, db: psycopg.Connection
) -> None:
    ticket = demo_ticket(LINT)
    result = dev.run(task(ticket, AgentRole.DEV))
    config = demo_repo_files()["invoicing/config.py"]
    key_line = next(line for line in config.splitlines() if "sk_live" in line)
    added = FileChange(path="invoicing/settings.py", content=f'"""Payment settings."""\n\n{key_line}\n')
    forge.commit_files(DEMO_REPO, result.branch, [added], "Add settings", "test:add-settings")
    first = review.run(task(ticket, AgentRole.REVIEW, dev=result))
    assert (first.ok, first.blocking, first.comments_posted) == (False, True, 2), "the finding and the criteria"
    [finding] = first.findings
    assert (finding.tool, finding.severity, finding.path, finding.line, finding.touched) == (
        "detect-secrets", "high", "invoicing/settings.py", 3, True)
    assert "Stripe Access Key" in finding.code
    assert forge.statuses(result.pr_id)["review"] == "failed"
    assert forge.get_pr(result.pr_id).is_draft
    [comment] = [c for c in forge.comments(result.pr_id) if c.path]
    assert (comment.path, comment.line) == ("invoicing/settings.py", 3)
    again = review.run(task(ticket, AgentRole.REVIEW, dev=result))
    assert (again.comments_posted, again.findings) == (0, first.findings)
    assert count(db, "pr_comments") == 2


def test_a_secret_already_on_main_is_commented_but_does_not_hold_up_an_unrelated_change(
    forge: LocalForge, demo_ticket: MakeTicket
) -> None:
    """Secret scanning blocks what a change adds; a key the default branch already holds (ticket 103 is there
    to remove it) is shown at its line and named in the verdict, for a ticket of its own."""
    ticket = demo_ticket(LINT)
    result = dev.run(task(ticket, AgentRole.DEV))
    touched = FileChange(path="invoicing/config.py", content="# Payments\n" + demo_repo_files()["invoicing/config.py"])
    forge.commit_files(DEMO_REPO, result.branch, [touched], "Touch config", "test:touch-config")
    verdict = review.run(task(ticket, AgentRole.REVIEW, dev=result))
    [finding] = verdict.findings
    assert (finding.severity, finding.path, finding.line, finding.touched) == ("high", "invoicing/config.py", 5,
                                                                              False)
    assert (verdict.ok, verdict.blocking) == (True, False)
    assert "1 high on lines this PR did not touch, already on the default branch" in verdict.summary
    assert forge.statuses(result.pr_id)["review"] == "succeeded"
    [comment] = [c for c in forge.comments(result.pr_id) if c.path]
    assert (comment.path, comment.line) == ("invoicing/config.py", 5)


def test_pipeline_creates_then_keeps_the_ci_yaml(forge: LocalForge, demo_ticket: MakeTicket, show: Show) -> None:
    ticket = demo_ticket(PIPELINE)
    dev_result = dev.run(task(ticket, AgentRole.DEV))
    created = pipeline.run(task(ticket, AgentRole.PIPELINE, dev=dev_result))
    assert created.action == "created" and created.head_commit == forge.head(DEMO_REPO, dev_result.branch)
    yaml_text = show(DEMO_REPO, dev_result.branch, "azure-pipelines.yml") or ""
    assert yaml_text.splitlines()[0] == MARKER and "pip install -r requirements.txt" in yaml_text
    assert forge.statuses(dev_result.pr_id) == {"ticketpilot/ci-config": "succeeded"}
    again = pipeline.run(task(ticket, AgentRole.PIPELINE, dev=dev_result))
    assert (again.action, again.head_commit) == ("unchanged", created.head_commit)
    owned = "trigger: none\nsteps:\n  - script: python -m pytest -q -x\n"
    forge.commit_files(DEMO_REPO, dev_result.branch, [FileChange(path="azure-pipelines.yml", content=owned)],
                       "Our own pipeline", "test:own-pipeline")
    assert pipeline.run(task(ticket, AgentRole.PIPELINE, dev=dev_result)).action == "kept_user_owned"
    assert show(DEMO_REPO, dev_result.branch, "azure-pipelines.yml") == owned


def test_tests_run_the_pipeline_command_and_set_the_build_status(
    forge: LocalForge, demo_ticket: MakeTicket
) -> None:
    ticket = demo_ticket(PIPELINE)
    dev_result = dev.run(task(ticket, AgentRole.DEV))
    pipeline.run(task(ticket, AgentRole.PIPELINE, dev=dev_result))
    result = testing.run(task(ticket, AgentRole.TEST, dev=dev_result))
    assert (result.ok, result.passed, result.iterations) == (True, True, 1)
    [run] = result.runs
    assert run.command[1:] == ["-m", "pytest", "-q"] and run.exit_code == 0
    assert "/venvs/" in run.command[0], "the repository's own venv (include/sandbox), not the platform's python"
    assert "5 passed" in run.output_tail and len(run.output_tail) <= 4000
    assert forge.statuses(dev_result.pr_id)["ticketpilot/tests"] == "succeeded"


def test_lint_ticket_fixes_red_tests_with_ruff(
    forge: LocalForge, demo_ticket: MakeTicket, open_pr: Callable[[Ticket], dict[str, object]]
) -> None:
    files = demo_repo_files() | {
        "tests/test_namespace.py": "import invoicing.totals as totals\n\n\ndef test_no_stray_imports():\n"
        "    assert not {'json', 'math'} & set(vars(totals))\n"
    }
    forge.create_repo("lint-loop", files)
    ticket = demo_ticket(LINT, repo="lint-loop")
    dev_result = open_pr(ticket)
    result = testing.run(task(ticket, AgentRole.TEST, dev=dev_result))
    assert (result.passed, result.iterations) == (True, 2)
    assert result.runs[0].exit_code == 1 and result.runs[0].fix_applied == "ruff check --fix: invoicing/totals.py"
    assert result.head_commit == forge.head("lint-loop", ticket.branch) != dev_result["head_commit"]
    again = testing.run(task(ticket, AgentRole.TEST, dev=dev_result))
    assert (again.iterations, again.head_commit) == (1, result.head_commit)


def test_red_tests_without_a_fixer_are_reported(
    forge: LocalForge, demo_ticket: MakeTicket, open_pr: Callable[[Ticket], dict[str, object]]
) -> None:
    forge.create_repo("red", demo_repo_files() | {"tests/test_red.py": "def test_red():\n    assert 1 == 2\n"})
    ticket = demo_ticket(BUMP, repo="red")
    dev_result = open_pr(ticket)
    result = testing.run(task(ticket, AgentRole.TEST, dev=dev_result))
    assert (result.ok, result.passed, result.iterations) == (False, False, 1)
    assert "tests failed (exit 1)" in result.summary and "language model" in result.summary
    assert "1 failed, 5 passed" in result.runs[0].output_tail
    assert forge.statuses(int(dev_result["pr_id"]))["ticketpilot/tests"] == "failed"  # type: ignore[call-overload]


def test_docs_follow_the_merged_pipeline_pr(forge: LocalForge, demo_ticket: MakeTicket, show: Show) -> None:
    ticket = demo_ticket(PIPELINE)
    dev_result = dev.run(task(ticket, AgentRole.DEV))
    pipeline.run(task(ticket, AgentRole.PIPELINE, dev=dev_result))
    with pytest.raises(AgentError, match="runs after PR #1 is merged"):
        docs.run(task(ticket, AgentRole.DOCS, dev=dev_result))
    assert review.run(task(ticket, AgentRole.REVIEW, dev=dev_result)).ok
    merge_dev_pr(forge, dev_result.pr_id)
    result = docs.run(task(ticket, AgentRole.DOCS, dev=dev_result))
    assert result.changelog_entry == "- Add a CI pipeline for invoicing-service (AB#101, PR #1)"
    assert (result.readme_updated, result.adr_path) == (True, None)
    assert result.merge_commit == forge.head(DEMO_REPO, "main")
    docs_pr = forge.get_pr(result.docs_pr_id or 0)
    assert (docs_pr.source_branch, docs_pr.status, docs_pr.is_draft) == ("tp/101-docs", "completed", False)
    assert forge.statuses(docs_pr.pr_id) == {"docs": "succeeded"}
    log = show(DEMO_REPO, "main", "CHANGELOG.md") or ""
    assert "## [Unreleased]\n\n### Added\n\n- Add a CI pipeline for invoicing-service (AB#101, PR #1)\n" in log
    readme = show(DEMO_REPO, "main", "README.md") or ""
    assert "## Continuous integration\n\nEvery push and pull request to `main` runs [`azure-pipelines.yml`]" in readme
    assert docs.run(task(ticket, AgentRole.DOCS, dev=dev_result)) == result
    assert forge.head(DEMO_REPO, "main") == result.merge_commit


def test_docs_name_the_new_environment_variable(forge: LocalForge, demo_ticket: MakeTicket, show: Show) -> None:
    ticket = demo_ticket(SECRET)
    dev_result = dev.run(task(ticket, AgentRole.DEV))
    merge_dev_pr(forge, dev_result.pr_id)
    result = docs.run(task(ticket, AgentRole.DOCS, dev=dev_result))
    assert result.readme_updated
    readme = show(DEMO_REPO, "main", "README.md") or ""
    assert "## Configuration\n\n" in readme and "- `INVOICING_API_KEY`: read by `invoicing/config.py`" in readme
    assert "### Security\n\n- Remove leaked Stripe API key from config (AB#103, PR #1)" in (
        show(DEMO_REPO, "main", "CHANGELOG.md") or ""
    )


def test_docs_rebuild_when_main_moved_under_them(
    forge: LocalForge, demo_ticket: MakeTicket, show: Show
) -> None:
    bump, lint = demo_ticket(BUMP), demo_ticket(LINT)
    bump_dev = dev.run(task(bump, AgentRole.DEV))
    lint_dev = dev.run(task(lint, AgentRole.DEV))
    merge_dev_pr(forge, bump_dev.pr_id)
    merge_dev_pr(forge, lint_dev.pr_id)
    # An earlier lint docs run got as far as its commit, then main moved: the bump's entry lands first.
    stale = changelog.add_entry(show(DEMO_REPO, "main", "CHANGELOG.md"), "Fixed",
                                changelog.entry_line(lint, lint_dev.pr_id))
    forge.ensure_branch(DEMO_REPO, "tp/104-docs", "main")
    forge.commit_files(DEMO_REPO, "tp/104-docs", [FileChange(path="CHANGELOG.md", content=stale)], "Docs",
                       "acme-104:docs:r1")
    assert docs.run(task(bump, AgentRole.DOCS, dev=bump_dev)).readme_updated is False
    result = docs.run(task(lint, AgentRole.DOCS, dev=lint_dev))
    stale_pr = forge.find_pr(DEMO_REPO, "tp/104-docs")
    assert stale_pr is not None and stale_pr.status == "active"
    assert "Superseded" in forge.comments(stale_pr.pr_id)[0].body
    assert forge.get_pr(result.docs_pr_id or 0).source_branch == "tp/104-docs-2"
    log = show(DEMO_REPO, "main", "CHANGELOG.md") or ""
    assert "### Changed\n\n- Bump requests to 2.32.3 (AB#102, PR #1)\n\n### Fixed\n\n- Fix lint" in log
    assert docs.run(task(lint, AgentRole.DOCS, dev=lint_dev)) == result


def test_dev_names_the_lock_file_a_bump_leaves_out_of_step(forge: LocalForge, demo_ticket: MakeTicket) -> None:
    """The sandbox has no network to run `npm install`: the PR and the result say what a person runs, and the
    final check keeps the merge at the gate until the branch carries the regenerated lock file."""
    forge.create_repo("portal", {"package.json": '{\n  "name": "portal",\n  "dependencies": {\n'
                                                 '    "lodash": "^4.17.20"\n  }\n}\n',
                                 "package-lock.json": '{"lockfileVersion": 3}\n'})
    ticket = demo_ticket(BUMP, repo="portal", title="Bump lodash to 4.17.21", description="CVE-2021-23337.")
    result = dev.run(task(ticket, AgentRole.DEV))
    assert result.files_changed == ["package.json"]
    assert [(lock.path, lock.command, lock.directory) for lock in result.stale_lock_files] == [
        ("package-lock.json", "npm install", ".")]
    assert "lock file(s) to regenerate before merging: package-lock.json" in result.summary
    body = forge.get_pr(result.pr_id).description
    assert "## Before merging" in body and "`package-lock.json` still records the old version" in body

    forge.commit_files("portal", result.branch, [FileChange(path="package-lock.json",
                                                            content='{"lockfileVersion": 3, "v": 2}\n')],
                       "Regenerate package-lock.json", "person:lock")
    assert dev.run(task(ticket, AgentRole.DEV)).stale_lock_files == [], "the branch now carries it"
