"""Acceptance criteria as evidence: what the platform could verify of each criterion, and how."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class CriterionStatus(StrEnum):
    MET = "met"
    """Verified from the working copy, the scanners or the test run."""
    UNMET = "unmet"
    """Verified to be false: blocks the merge of R1 and above unless a person overrides it at the gate."""
    PERSON = "person"
    """Not machine-checkable (behaviour, wording): a reviewer judges it."""
    AFTER_MERGE = "after_merge"
    """Met by a later step (the docs step writes the CHANGELOG line after the merge)."""


class CriterionEvidence(BaseModel):
    text: str
    check: str = Field(description="The PO's verification kind: tests, scan, file, docs, review.")
    status: CriterionStatus
    evidence: str = Field(description="What was looked at and what it showed, for the reviewer's comment.")
