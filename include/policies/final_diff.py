"""The risk class of a finished change, with the reasons a person at the gate reads.

`escalate_for_diff` answers with a class; an approver also needs to know *why* a one-line lint ticket now
waits for them. The Rego diff decision names the rule each path met, so the explanation comes from the same
evaluation as the class and cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Iterable

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.risk import diff_decision, normalise_path


def classify_final_diff(
    planned: RiskClass, files: Iterable[str], lines: int, *, kind: ChangeKind | None,
    exempt: Iterable[str] = (), tenant: str | None = None,
) -> tuple[RiskClass, list[str]]:
    """(class, reasons) for the change a merge would make. The reasons name every row that raised the class or
    asks for people, even when an earlier step already raised it: the approver reads why, not only what.
    `exempt` paths are files the platform itself wrote from a reviewed template (the Pipeline step's CI file):
    they are the platform's change, not the ticket's."""
    files = list(files)
    skip = {normalise_path(path) for path in exempt}
    counted = [path for path in files if normalise_path(path) not in skip]
    decided = diff_decision(planned, counted, lines, 1, kind=kind, tenant=tenant)
    reasons: list[str] = []
    if lines > decided["large_diff_lines"]:
        reasons.append(f"{lines} changed lines (more than {decided['large_diff_lines']}): a larger change, at "
                       "least R2")
    for path in counted:
        rule = decided["paths"].get(normalise_path(path))
        if rule is None:
            continue
        risk = RiskClass(rule["risk"])
        if risk.needs_gate or risk.at_least(planned) != planned:
            reasons.append(f"{path} {rule['why']} ({risk.value})")
    if skip & {normalise_path(path) for path in files}:
        reasons.append(f"not counted: {', '.join(sorted(skip))} (written by the pipeline step from its template)")
    return RiskClass(decided["risk"]), reasons
