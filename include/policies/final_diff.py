"""The risk class of a finished change, with the reasons a person at the gate reads.

`escalate_for_diff` answers with a class; an approver also needs to know *why* a one-line lint ticket now
waits for them. This walks the same tables (size, then each path against PATH_RULES) and says which row
raised the class, so the policy stays in one place and the explanation cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.risk import LARGE_DIFF_LINES, PATH_RULES, escalate_for_diff


def classify_final_diff(
    planned: RiskClass, files: Iterable[str], lines: int, *, kind: ChangeKind | None,
    exempt: Iterable[str] = (),
) -> tuple[RiskClass, list[str]]:
    """(class, reasons) for the change a merge would make. The reasons name every row that raised the class or
    asks for people, even when an earlier step already raised it: the approver reads why, not only what.
    `exempt` paths are files the platform itself wrote from a reviewed template (the Pipeline step's CI file):
    they are the platform's change, not the ticket's."""
    skip = {_normalise(path) for path in exempt}
    counted = [path for path in files if _normalise(path) not in skip]
    risk = escalate_for_diff(planned, counted, lines, 1, kind=kind)
    reasons: list[str] = []
    if lines > LARGE_DIFF_LINES:
        reasons.append(f"{lines} changed lines (more than {LARGE_DIFF_LINES}): a larger change, at least R2")
    for path in counted:
        normalised = _normalise(path)
        for rule in PATH_RULES:
            if rule.exempt_kind is not None and rule.exempt_kind == kind:
                continue
            if fnmatchcase(normalised, rule.glob) and (rule.risk.needs_gate or rule.risk.at_least(planned) != planned):
                reasons.append(f"{path} {rule.why} ({rule.risk.value})")
                break
    if skip & {_normalise(path) for path in files}:
        reasons.append(f"not counted: {', '.join(sorted(skip))} (written by the pipeline step from its template)")
    return risk, reasons


def _normalise(path: str) -> str:
    """Repository-relative, forward slashes, lower case: the form PATH_RULES are written against."""
    normalised = path.replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    return normalised.lstrip("/").lower()
