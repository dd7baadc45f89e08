"""What an agent step receives and returns: the one contract both runners (local process, pod) honour.

The task arrives as JSON in ``TICKETPILOT_AGENT_TASK``; the result is written as JSON to the
KubernetesPodOperator XCom path (``/airflow/xcom/return.json`` in a pod, a per-try file locally).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from include.contracts.evidence import CriterionEvidence
from include.contracts.risk import RiskClass
from include.contracts.ticket import Ticket


class AgentRole(StrEnum):
    PO = "po"
    DEV = "dev"
    PIPELINE = "pipeline"
    TEST = "test"
    REVIEW = "review"
    DOCS = "docs"


class AgentTask(BaseModel):
    """Everything an agent needs; nothing is read from Airflow inside the agent."""

    model_config = ConfigDict(frozen=True)

    role: AgentRole
    ticket: Ticket
    run_id: str
    try_number: int = 1
    upstream: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Results of earlier steps, keyed by role."
    )
    max_fix_iterations: int = Field(default=3, ge=0, le=10)
    test_timeout_s: int = Field(default=300, ge=1, le=3600)


class _ResultBase(BaseModel):
    ok: bool = True
    summary: str = Field(description="One line for the run log and the PR timeline.")


class AcceptanceItem(BaseModel):
    text: str
    check: str = Field(description="How the platform verifies it: tests, scan, file, review.")


class PoResult(_ResultBase):
    role: Literal["po"] = "po"
    checklist: list[AcceptanceItem]
    change_kind: str = Field(description="The effective kind Dev works the ticket as (after the precondition).")
    risk_class: RiskClass = Field(description="The effective class: the ticket's, raised by a model's hint or by "
                                  "a playbook ticket turned into model work; never lower than planned.")
    planned_change_kind: str = Field(default="", description="The kind the rule tables read from the ticket text.")
    precondition: str = Field(default="", description="Why the effective kind was chosen: the repository's answer "
                              "to the playbook's precondition, in one sentence.")
    model_change_kind: str | None = Field(default=None, description="The kind the model read; recorded, it never "
                                          "picks a playbook.")
    affected_areas: list[str] = Field(default_factory=list, description="Files, modules or areas the model "
                                      "expects the change to touch.")
    code_pointers: list[str] = Field(default_factory=list, description="Where the code index points for the "
                                     "ticket on the default branch (`path:lines kind symbol: first line`), as the "
                                     "model was shown them; Dev's loop starts from them.")
    risk_hint: RiskClass | None = Field(default=None, description="The model's risk hint, counted only upwards.")
    understood_by: str | None = Field(default=None, description="The model that read the ticket, when one did.")


class StaleLockFile(BaseModel):
    """A lock file a dependency bump left recording the old version. Ticketpilot does not write lock files by hand
    and its sandbox has no network to regenerate them, so a person runs `command` in `directory` and pushes it."""

    path: str
    manifest: str = Field(description="The manifest the bump changed, which the lock file is out of step with.")
    command: str = Field(description="What regenerates it: `npm install`, `dotnet restore --force-evaluate`.")
    directory: str = Field(description="Where to run it, relative to the repository root ('.' for the root).")

    def note(self) -> str:
        where = "the repository root" if self.directory == "." else self.directory
        return f"{self.path} still records the old version: run `{self.command}` in {where} and push it to the branch"


class DevResult(_ResultBase):
    role: Literal["dev"] = "dev"
    branch: str
    pr_id: int
    pr_url: str = ""
    head_commit: str
    files_changed: list[str] = Field(default_factory=list)
    lines_changed: int = 0
    risk_class: RiskClass = Field(description="Risk after looking at the real diff; never lower than planned.")
    proposed_by: str | None = Field(
        default=None, description="The model ('provider:model') whose edits made the change; None for a playbook."
    )
    stale_lock_files: list[StaleLockFile] = Field(
        default_factory=list, description="Lock files the bump left out of step; the final check parks the merge "
                                          "at the gate while the final change still lacks them.")


class PipelineResult(_ResultBase):
    role: Literal["pipeline"] = "pipeline"
    path: str = "azure-pipelines.yml"
    action: Literal["created", "updated", "unchanged", "kept_user_owned", "kept_existing", "left_to_ticket"] = Field(
        description="kept_existing: the ticket does not ask for CI and the repository has CI for its forge; "
                    "left_to_ticket: the repository has none, and another open ticket that asks for CI adds it."
    )
    ci_ticket: str | None = Field(default=None, description="The ticket CI was left to (left_to_ticket).")
    head_commit: str


class TestRun(BaseModel):
    iteration: int
    command: list[str]
    exit_code: int
    duration_s: float
    output_tail: str = ""
    fix_applied: str = ""
    fix_model: str | None = Field(default=None, description="The model that proposed the fix, when one did.")


class TestResult(_ResultBase):
    role: Literal["test"] = "test"
    passed: bool
    iterations: int
    runs: list[TestRun]
    head_commit: str


class Finding(BaseModel):
    tool: Literal["ruff", "bandit", "detect-secrets"]
    severity: Literal["low", "medium", "high"]
    path: str
    line: int = 0
    code: str = ""
    message: str
    touched: bool = Field(
        default=True, description="On a line the PR added or changed; others are summarised, not commented."
    )


class ReviewResult(_ResultBase):
    role: Literal["review"] = "review"
    findings: list[Finding] = Field(description="Deduplicated, highest severity first; the report lists them all.")
    blocking: bool
    comments_posted: int
    commented_inline: int = Field(default=0, description="Findings commented at their line (capped per PR).")
    not_applicable: dict[str, int] = Field(
        default_factory=dict,
        description="Scanner hits dropped because the rule does not fit the file's role, e.g. "
        "'bandit B101 in test files' → count.",
    )
    criteria: list[CriterionEvidence] = Field(
        default_factory=list, description="Each acceptance criterion with what verified it, met or unmet."
    )
    model_summary: str | None = Field(default=None, description="The model's summary of the diff, when one wrote it.")
    model_risks: list[str] = Field(default_factory=list, description="Risks the model names for a reviewer.")
    summarised_by: str | None = Field(default=None, description="The model that wrote the summary.")


class DocsResult(_ResultBase):
    role: Literal["docs"] = "docs"
    changelog_entry: str
    readme_updated: bool
    adr_path: str | None = None
    docs_pr_id: int | None = None
    merge_commit: str | None = None


AgentResult = Annotated[
    PoResult | DevResult | PipelineResult | TestResult | ReviewResult | DocsResult,
    Field(discriminator="role"),
]
_RESULT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AgentResult)


def parse_result(data: dict[str, Any] | str | bytes) -> Any:
    """Validate a result written by an agent; raise pydantic.ValidationError when it breaks the contract."""
    if isinstance(data, (str, bytes)):
        return _RESULT_ADAPTER.validate_json(data)
    return _RESULT_ADAPTER.validate_python(data)
