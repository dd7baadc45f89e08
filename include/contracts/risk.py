"""Risk classes decide whether a change may merge on green or needs people."""

from __future__ import annotations

from enum import StrEnum


class RiskClass(StrEnum):
    """R0 docs/lint/tests, R1 small or minor upgrade, R2 larger or multi-repo, R3 security/production-near."""

    R0 = "R0"
    R1 = "R1"
    R2 = "R2"
    R3 = "R3"

    @property
    def needs_gate(self) -> bool:
        return self in (RiskClass.R2, RiskClass.R3)

    @property
    def required_approvals(self) -> int:
        """R2 needs one approver; R3 a named approver plus a second, distinct person."""
        return {RiskClass.R0: 0, RiskClass.R1: 0, RiskClass.R2: 1, RiskClass.R3: 2}[self]

    def at_least(self, other: RiskClass) -> RiskClass:
        return max(self, other, key=lambda r: int(r.value[1]))
