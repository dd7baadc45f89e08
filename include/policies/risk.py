"""Risk classification: the rule tables are Rego (include/policies/rego/risk.rego), evaluated in-process by
regopy (include/policies/engine.py); the change kind is read from the ticket's words by include.policies.kinds.

Two moments, two functions: `classify` sees only the ticket text (at the door), `escalate_for_diff` sees
the diff the agents produced (before merge) and may only raise the class planned at the door. This module
normalises what the rules read (lower case, forward slashes) and turns their answer into contracts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.engine import platform_engine
from include.policies.kinds import read_kind
from include.policies.tenant_bundles import engine_for
from model_serving.router.injection import scan


class Classification(NamedTuple):
    change_kind: ChangeKind
    risk_class: RiskClass


def __getattr__(name: str) -> Any:
    """`LARGE_DIFF_LINES`, read from the Rego tables (the one place it is set) when first asked for."""
    if name == "LARGE_DIFF_LINES":
        return platform_engine().data("large_diff_lines")
    raise AttributeError(name)


def classify(title: str, description: str, tags: Iterable[str], work_item_type: str, *,
             tenant: str | None = None) -> Classification:
    """The change kind and risk class of a ticket, from its whole text: the kind its words ask for
    (include.policies.kinds), raised by every floor its tags, type, title or description meet (the platform's,
    and the tenant's bundle where it has one)."""
    tag_list = [t.strip().lower() for t in tags if t.strip()]
    kind, risk = read_kind(title, description, work_item_type)
    text = f"{title}\n{description}"
    decided = engine_for(tenant).decide("door", {"planned": risk.value, "text": text.lower(), "tags": tag_list,
                                                "work_item_type": work_item_type.strip().lower(),
                                                "injection": injection_rules(text)})
    return Classification(kind, RiskClass(decided["risk"]))


def injection_rules(text: str) -> list[str]:
    """The injection tripwire's rules the ticket's text meets: each raises the ticket to R3 at the door (the agents
    treat the text as data either way; a person should read a ticket that tries to instruct them)."""
    return sorted({finding.rule for finding in scan(text)})


def escalate_for_diff(
    planned: RiskClass,
    files_changed: Iterable[str],
    lines_changed: int,
    repos: int,
    *,
    kind: ChangeKind | None = None,
    tenant: str | None = None,
) -> RiskClass:
    """The class a finished diff deserves: `planned`, raised by size, spread and sensitive paths; never lower.

    `kind` only matters for CI definitions: for a PIPELINE ticket they are the change asked for, for any
    other ticket they are a side door to pipeline secrets.
    """
    return RiskClass(diff_decision(planned, files_changed, lines_changed, repos, kind=kind, tenant=tenant)["risk"])


def diff_decision(planned: RiskClass, files_changed: Iterable[str], lines_changed: int, repos: int, *,
                  kind: ChangeKind | None = None, tenant: str | None = None) -> dict[str, Any]:
    """The diff decision in full: `risk`, and `paths` (each normalised path that met a rule: the first rule)."""
    return engine_for(tenant).decide("diff", {
        "planned": planned.value, "files": sorted({normalise_path(p) for p in files_changed}),
        "lines_changed": lines_changed, "repos": repos, "kind": kind.value if kind else ""})


def normalise_path(path: str) -> str:
    """Repository-relative, forward slashes, lower case: the form the path rules are written against."""
    normalised = path.replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    return normalised.lstrip("/").lower()
