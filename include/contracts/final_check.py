"""What the final check says about a ticket's change right before the gate and the merge.

The plan (the ticket text, the PO's reading, the Dev step's diff) is not what merges: the Pipeline step and
every fix round add commits after it, and the default branch moves while a gate waits. The final check looks at
what merging would change on the *current* default branch, and its verdict is what the gate, the merge and the
docs act on.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from include.contracts.risk import RiskClass


class FinalOutcome(StrEnum):
    MERGE = "merge"
    """The merge would change the default branch: gate (if the class needs one), then merge."""
    NOTHING_TO_CHANGE = "nothing_to_change"
    """The branch has no change at all: the ticket ends without a PR merge, the work item says why."""
    ALREADY_LANDED = "already_landed"
    """The branch changes files, but the default branch already has the same content: closed as such."""
    CONFLICT = "conflict"
    """The branch no longer merges cleanly onto the default branch: a person (or a re-plan) must rebase it."""


class FinalCheckResult(BaseModel):
    outcome: FinalOutcome
    risk_class: RiskClass = Field(description="The class the final change deserves; never below the planned one.")
    planned_risk: RiskClass = Field(description="The highest class set before the final diff was seen.")
    reasons: list[str] = Field(default_factory=list, description="Why the class is what it is, for the gate.")
    files: list[str] = Field(default_factory=list, description="Files the merge would change on the default branch.")
    lines: int = 0
    base_commit: str = Field(description="The default branch's tip the change was compared against.")
    head_commit: str = Field(description="The PR branch's tip that was checked.")
    summary: str

    @property
    def raised(self) -> bool:
        return self.risk_class != self.planned_risk
