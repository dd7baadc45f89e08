"""Risk classification, as explicit rule tables (policy as code); the change kind is read from the ticket's
words by include.policies.kinds.

Every decision is a row in one of the tables below, with the reason it exists; the functions only walk
the tables. Keeping the rules declarative makes the planned move to Rego (regopy) a translation, not a
redesign. When in doubt the tables err upwards: an over-classified ticket costs one human click, an
under-classified one merges unreviewed code.

Two moments, two functions: `classify` sees only the ticket text (at the door), `escalate_for_diff` sees
the diff the agents produced (before merge) and may only raise the class planned at the door.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal, NamedTuple

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.kinds import read_kind


def _words(*alternatives: str) -> re.Pattern[str]:
    """A case-insensitive pattern matching any alternative as whole words."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Floor:
    """A minimum class: applies when `pattern` fully matches a tag or the work item type, or is found in
    the title or description (`where` says which)."""

    where: Literal["tag", "work_item_type", "text"]
    pattern: re.Pattern[str]
    risk: RiskClass
    why: str


@dataclass(frozen=True)
class PathRule:
    """Changed files matching `glob` (fnmatch: `*` also crosses `/`; paths are lower-cased) raise the
    class to `risk`, unless the ticket is of `exempt_kind`, for which such files are the expected change."""

    glob: str
    risk: RiskClass
    why: str
    exempt_kind: ChangeKind | None = None


class Classification(NamedTuple):
    change_kind: ChangeKind
    risk_class: RiskClass


_SECURITY_WORDS = (
    r"secrets?", r"credentials?", r"passwords?", r"api[ _-]?keys?", r"tokens?", r"authenticat\w*", r"authori[sz]\w*",
    r"sso", r"oauth\w*", r"jwt", r"permissions?", r"encrypt\w*", r"csrf", r"xss",
    r"sql[ -]injection", r"vulnerabilit\w*", r"zugangsdaten", r"passw(?:o|ö)rt\w*", r"kennw(?:o|ö)rt\w*",
    r"[\w-]*schlüssel", r"authentifizier\w*", r"autorisier\w*", r"anmeld\w*", r"berechtigung\w*",
    r"verschlüssel\w*", r"schwachstelle\w*", r"sicherheitslücke\w*",
)
"""Security-relevant words, English and German. A memory or connection leak is a bug, not an exposure: no
'leak' here (a leaked credential is a secret-remediation ticket, R3 by its kind)."""

_PRODUCTION_WORDS = (r"production", r"prod", r"produktion\w*", r"produktiv\w*", r"live[ -]system\w*",
                     r"(?:database|db|schema)[ -]migrations?", r"datenbankmigration\w*")

FLOORS: tuple[Floor, ...] = (
    Floor("tag", re.compile(r"security|production", re.IGNORECASE), RiskClass.R3,
          "security or production-near work needs a named approver"),
    Floor("tag", re.compile("|".join(_SECURITY_WORDS), re.IGNORECASE), RiskClass.R3,
          "the board files it under credentials or authentication"),
    Floor("tag", re.compile(r"major", re.IGNORECASE), RiskClass.R2,
          "the author calls the change major (for a bump: a major version, which may break callers)"),
    *(Floor("tag", re.compile(rf"risk:{risk.value}", re.IGNORECASE), risk, "set by the ticket's author")
      for risk in RiskClass),
    Floor("work_item_type", re.compile(r"epic|feature", re.IGNORECASE), RiskClass.R2,
          "epics and features are large by definition, whatever the title says"),
    Floor("text", _words(*_SECURITY_WORDS), RiskClass.R3,
          "the ticket talks about credentials, authentication or a vulnerability: security-relevant"),
    Floor("text", _words(*_PRODUCTION_WORDS), RiskClass.R3,
          "production systems and their data: a named approver"),
)

LARGE_DIFF_LINES = 200
"""More changed lines than this is a 'larger' change (R2) whatever the ticket said."""

_SECRET_FILES = ("*secret*", "*credential*", "*.pem", "*.key", "*.pfx", "*.p12", ".env", "*/.env", ".env.*",
                 "*/.env.*")
_AUTH_DIRS = ("auth/*", "*/auth/*", "security/*", "*/security/*")
_INFRA = ("infra/*", "*/infra/*", "terraform/*", "*/terraform/*", "*.tf", "*.tfvars", "k8s/*", "*/k8s/*",
          "helm/*", "*/helm/*")
_CI_DEFINITIONS = (".github/*", "azure-pipelines*.yml", "*/azure-pipelines*.yml", ".azure-pipelines/*",
                   ".gitlab-ci.yml")

PATH_RULES: tuple[PathRule, ...] = (
    *(PathRule(g, RiskClass.R3, "touches secret material") for g in _SECRET_FILES),
    *(PathRule(g, RiskClass.R3, "touches authentication or security code") for g in _AUTH_DIRS),
    *(PathRule(g, RiskClass.R3, "touches infrastructure definitions") for g in _INFRA),
    PathRule("codeowners", RiskClass.R3, "changes who must review"),
    PathRule("*/codeowners", RiskClass.R3, "changes who must review"),
    *(PathRule(g, RiskClass.R3, "CI definitions run with pipeline secrets", exempt_kind=ChangeKind.PIPELINE)
      for g in _CI_DEFINITIONS),
)


def classify(title: str, description: str, tags: Iterable[str], work_item_type: str) -> Classification:
    """The change kind and risk class of a ticket, from its whole text: the kind its words ask for
    (include.policies.kinds), raised by every floor its tags, type, title or description meet."""
    tag_list = [t.strip() for t in tags if t.strip()]
    kind, risk = read_kind(title, description, work_item_type)
    for floor in FLOORS:
        if _floor_applies(floor, f"{title}\n{description}", tag_list, work_item_type):
            risk = risk.at_least(floor.risk)
    return Classification(kind, risk)


def escalate_for_diff(
    planned: RiskClass,
    files_changed: Iterable[str],
    lines_changed: int,
    repos: int,
    *,
    kind: ChangeKind | None = None,
) -> RiskClass:
    """The class a finished diff deserves: `planned`, raised by size, spread and sensitive paths; never lower.

    `kind` only matters for CI definitions: for a PIPELINE ticket they are the change asked for, for any
    other ticket they are a side door to pipeline secrets.
    """
    risk = planned
    if lines_changed > LARGE_DIFF_LINES or repos > 1:
        risk = risk.at_least(RiskClass.R2)
    for path in files_changed:
        normalised = _normalise(path)
        for rule in PATH_RULES:
            if rule.exempt_kind is not None and rule.exempt_kind == kind:
                continue
            if fnmatchcase(normalised, rule.glob):
                risk = risk.at_least(rule.risk)
    return risk


def _floor_applies(floor: Floor, text: str, tags: list[str], work_item_type: str) -> bool:
    if floor.where == "tag":
        return any(floor.pattern.fullmatch(tag) for tag in tags)
    if floor.where == "work_item_type":
        return floor.pattern.fullmatch(work_item_type.strip()) is not None
    return floor.pattern.search(text) is not None


def _normalise(path: str) -> str:
    """Repository-relative, forward slashes, lower case: the form PATH_RULES are written against."""
    normalised = path.replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    return normalised.lstrip("/").lower()
