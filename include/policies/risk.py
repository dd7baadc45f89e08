"""Change-kind detection and risk classification, as explicit rule tables (policy as code).

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


def _words(*alternatives: str) -> re.Pattern[str]:
    """A case-insensitive pattern matching any alternative as whole words."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class KindRule:
    """Tickets whose title or a tag matches `pattern` (or whose tag is one of `tags`) are of `kind`."""

    kind: ChangeKind
    risk: RiskClass
    pattern: re.Pattern[str]
    why: str
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Floor:
    """A minimum class: applies when `pattern` fully matches a tag or the work item type, or is found in
    the description (`where` says which)."""

    where: Literal["tag", "work_item_type", "description"]
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


_SECRET_WORDS = (r"secrets?", r"credentials?", r"(?<!memory )(?<!resource )(?<!connection )leak(?:s|ed|ing)?",
                 r"api[ _-]?keys?", r"tokens?")
"""Words that mean an exposed credential. A memory/resource/connection leak is a bug, not an exposure."""

BUMP_PATTERN = re.compile(
    r"\b(?:bump|upgrade|update)\s+(?:the\s+)?(?P<package>[@\w][\w@/.\-]*)"
    r"(?:\s+(?:package|dependency|library|module))?"
    r"(?:\s+from\s+v?\S+)?\s+to\s+v?(?P<version>\d[\w.+\-]*)",
    re.IGNORECASE,
)
"""'bump requests to 2.32.3', 'Upgrade lodash from 4.17.20 to v4.17.21': a package and a target version."""

KIND_RULES: tuple[KindRule, ...] = (
    KindRule(
        ChangeKind.SECRET_REMEDIATION, RiskClass.R3, _words(*_SECRET_WORDS),
        "an exposed credential must be rotated and scrubbed from history: always a named approver",
    ),
    KindRule(
        ChangeKind.PIPELINE, RiskClass.R1,
        _words(r"azure-pipelines(?:\.ya?ml)?", r"pipelines?", r"ci(?:/cd)?", r"continuous integration",
               r"build (?:pipeline|definition|validation|yaml)"),
        "a missing or broken CI definition: small, self-verifying (the pipeline runs on the PR)",
        tags=frozenset({"build"}),
    ),
    KindRule(
        ChangeKind.DEPENDENCY_BUMP, RiskClass.R1, BUMP_PATTERN,
        "a named package to a named version; the ticket text cannot tell a major bump, the `major` tag can",
    ),
    KindRule(
        ChangeKind.LINT_FIX, RiskClass.R0,
        _words(r"lint(?:s|er|ing)?", r"ruff", r"flake8", r"reformat(?:ting)?", r"code format(?:ting)?",
               r"unused imports?"),
        "behaviour-preserving by construction; bare 'format' is left out, it names features too",
    ),
    KindRule(
        ChangeKind.DOCS, RiskClass.R0, _words(r"docs?", r"documentation", r"readme", r"typos?", r"changelog"),
        "text only; merges on green",
    ),
)
"""Ordered: the first matching rule names the kind."""

UNMATCHED = Classification(ChangeKind.FEATURE, RiskClass.R2)
"""Anything no rule recognises is open-ended work a language model writes: a person looks before merge."""

FLOORS: tuple[Floor, ...] = (
    Floor("tag", re.compile(r"security|production", re.IGNORECASE), RiskClass.R3,
          "security or production-near work needs a named approver"),
    Floor("tag", re.compile(r"major", re.IGNORECASE), RiskClass.R2,
          "the author calls the change major (for a bump: a major version, which may break callers)"),
    *(Floor("tag", re.compile(rf"risk:{risk.value}", re.IGNORECASE), risk, "set by the ticket's author")
      for risk in RiskClass),
    Floor("work_item_type", re.compile(r"epic|feature", re.IGNORECASE), RiskClass.R2,
          "epics and features are large by definition, whatever the title says"),
    Floor("description", _words(*_SECRET_WORDS, r"passwords?"), RiskClass.R3,
          "the body talks about credentials: treat the change as security-relevant"),
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
    """The change kind and risk class of a ticket, from its text alone."""
    tag_list = [t.strip() for t in tags if t.strip()]
    rule = next((r for r in KIND_RULES if _kind_matches(r, title, tag_list)), None)
    kind, risk = (rule.kind, rule.risk) if rule else UNMATCHED
    for floor in FLOORS:
        if _floor_applies(floor, description, tag_list, work_item_type):
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


def _kind_matches(rule: KindRule, title: str, tags: list[str]) -> bool:
    if rule.pattern.search(title):
        return True
    return any(rule.pattern.search(tag) or tag.lower() in rule.tags for tag in tags)


def _floor_applies(floor: Floor, description: str, tags: list[str], work_item_type: str) -> bool:
    if floor.where == "tag":
        return any(floor.pattern.fullmatch(tag) for tag in tags)
    if floor.where == "work_item_type":
        return floor.pattern.fullmatch(work_item_type.strip()) is not None
    return floor.pattern.search(description) is not None


def _normalise(path: str) -> str:
    """Repository-relative, forward slashes, lower case: the form PATH_RULES are written against."""
    normalised = path.replace("\\", "/")
    while normalised.startswith("./"):
        normalised = normalised[2:]
    return normalised.lstrip("/").lower()
