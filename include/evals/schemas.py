"""What goldens hold, per skill; the answer schemas are the agents' own.

Every answer is validated with the schema its agent validates with (`po.TicketReading`,
`docs.PrDescription`, `review.ReviewSummary`, `edits.EditPlan`), so an eval scores exactly what an agent
would accept, and a schema change in an agent changes its eval with it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from include.agents.docs import PrDescription
from include.agents.edits import EditPlan, check_path
from include.agents.po import TicketReading
from include.agents.review import ReviewSummary
from include.contracts import ChangeKind, RiskClass, Ticket
from include.contracts.agent import Finding

TICKET_TENANT = "evals"
"""The tenant of the Ticket a golden becomes where an agent helper needs one; it appears in no prompt."""

__all__ = [
    "DevEditsInput", "DocsDescriptionInput", "EditPlan", "GoldenTicket", "PoRefineInput", "PrDescription",
    "ReviewSummary", "ReviewSummaryInput", "TicketReading",
]


class GoldenTicket(BaseModel):
    """The ticket part of a golden: what the ingress would have normalised from a real work item."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workitem_id: int = Field(gt=0)
    title: str = Field(min_length=1, max_length=512)
    description: str = ""
    acceptance_criteria: list[str] = Field(default_factory=list)
    change_kind: ChangeKind
    risk_class: RiskClass = RiskClass.R1
    repo: str = "invoicing-service"

    def to_ticket(self, tenant: str = TICKET_TENANT) -> Ticket:
        return Ticket(tenant=tenant, rev=1, **self.model_dump())


class PoRefineInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket: GoldenTicket


class DocsDescriptionInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket: GoldenTicket
    files_changed: list[str] = Field(min_length=1)
    docs_files: list[str] = Field(default_factory=list)


class ReviewSummaryInput(BaseModel):
    """What the review step shows the model: the ticket, the PR's diff and the tools' findings on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket: GoldenTicket
    diff: str = Field(min_length=1)
    findings: list[Finding] = Field(default_factory=list)


class DevEditsInput(BaseModel):
    """A ticket and the repository it is about; the check decides whether the model's edits do the job.

    `check_files` are written over the edited tree just before the check runs and are never shown to the
    model: the hidden tests of the golden, which an edit to the visible tests cannot weaken.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket: GoldenTicket
    files: dict[str, str] = Field(min_length=1)
    check_files: dict[str, str] = Field(default_factory=dict)
    check: list[str] = Field(min_length=1, description="argv run at the root of the edited tree; exit 0 passes. "
                             "A leading `python` runs as this interpreter.")
    check_timeout_s: float = Field(default=120, gt=0, le=600)

    @field_validator("files", "check_files")
    @classmethod
    def _relative_paths(cls, files: dict[str, str]) -> dict[str, str]:
        for path in files:
            check_path(path)
        return files
