"""What a ticket asks for, read from its words as teams write them, in English and German.

A kind is named only by a phrase that asks for that change ("bump requests to 2.32.3", "Geleakten
API-Schlüssel entfernen", "add a CI pipeline"), never by a keyword alone: "connection pool leak", "expired
access tokens" and "the CI upload script" mention the words of another kind and ask for something else. The
title speaks first; the description only when the title names no kind, and only for the kinds whose phrases
are specific enough not to turn up in passing (a feature's description mentions the README or lint often).
A text that asks for two kinds, an epic, or a text that asks for none is a `feature`: open-ended work for a
model and a person, never a playbook. The repository then has its say (include/agents/playbooks/preconditions).

The tables are data, one row per rule with its reason, so the planned move to Rego is a translation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind


def _any(*alternatives: str) -> re.Pattern[str]:
    """A case-insensitive pattern matching any alternative (regular expressions, verbose whitespace off)."""
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


@dataclass(frozen=True)
class KindRule:
    """A text that matches `asks` (and not `unless`) asks for a change of `kind`, planned at `risk`."""

    kind: ChangeKind
    risk: RiskClass
    asks: re.Pattern[str]
    why: str
    unless: re.Pattern[str] | None = None
    in_description: bool = False
    """Whether the phrase also counts in the description when the title names no kind."""

    def matches(self, text: str) -> bool:
        if self.kind is ChangeKind.DEPENDENCY_BUMP:
            return find_bump(text) is not None
        found = self.asks.search(text)
        return found is not None and not (self.unless and self.unless.search(text))


# --- secrets -------------------------------------------------------------------------------------------------
_SECRET_NOUN = (r"(?:[\w-]*?(?:secrets?|credentials?|api[ _-]?keys?|access[ _-]?keys?|secret[ _-]?keys?|passwords?"
                r"|private[ _-]?keys?|connection[ _-]?strings?|tokens?|schlüssel\w*|zugangsdaten|passw(?:o|ö)rt\w*"
                r"|kennw(?:o|ö)rt\w*))")
_EXPOSED = (r"(?:leak(?:ed|s)?|exposed|committed|hard-?coded|checked[ -]in|pushed|geleakt\w*|offengelegt\w*"
            r"|hartcodiert\w*|hart\s+kodiert\w*|eingecheckt\w*|veröffentlicht\w*)")
_IN_SOURCE = (r"(?:in|im|ins)\s+(?:the\s+|das\s+|dem\s+)?(?:source(?:\s+code)?|code|quelltext|repo(?:sitory)?"
              r"|git(?:\s+history)?|version\s+control|source\s+control)\b")
SECRET_ASKS = _any(
    rf"\b{_EXPOSED}\s+(?:[\w.-]+\s+){{0,3}}?{_SECRET_NOUN}\b",
    rf"\b{_SECRET_NOUN}\s+(?:[\w.-]+\s+){{0,2}}?(?:{_EXPOSED}|{_IN_SOURCE})",
    rf"\b(?:remove|scrub|purge|move|strip)\s+(?:the\s+|a\s+|all\s+)?(?:[\w.-]+\s+){{0,2}}?{_SECRET_NOUN}\s+"
    r"(?:[\w.-]+\s+){0,3}?(?:from|out\s+of)\s+(?:the\s+)?(?:code|source|repo\w*|config\w*|[\w/.-]+\.\w+)\b",
    rf"\b{_SECRET_NOUN}\s+(?:[\w.-]+\s+){{0,3}}?aus\s+(?:dem\s+|der\s+)?(?:code|quelltext|repo\w*|git"
    r"|konfiguration|config\w*|[\w/.-]+\.\w+)\s+(?:entfernen|löschen|herausnehmen|ausbauen)",
    r"\bdetect-secrets\b|\bgitleaks\b|\btrufflehog\b|\bsecret[ -]scann(?:ing|er)\s+(?:finding|alert|hit)s?",
)

# --- CI -----------------------------------------------------------------------------------------------------
_CI_NOUN = (r"(?:ci(?:/cd)?(?:[ -](?:pipelines?|workflows?|builds?|jobs?|config(?:uration)?|definitions?|checks?))?"
            r"|continuous\s+integration|(?:build|azure|azure\s+devops|release)[ -]pipelines?"
            r"|github\s+actions?(?:\s+workflows?)?|gitlab[ -]ci(?:[ -]pipelines?)?|(?:pipeline|workflow)\s+yaml"
            r"|azure-pipelines(?:\.ya?ml)?|\.gitlab-ci\.ya?ml|\.github/workflows\S*)")
_CI_NOT = r"(?![ -](?:upload|script|skript|badge|status|secrets?|cache|step|logs?|timeouts?|retr\w*|runners?))"
CI_FILES = r"azure-pipelines(?:\.ya?ml)?|\.gitlab-ci\.ya?ml|\.github/workflows"
CI_CHANGE_ASKS = _any(
    rf"\b(?:update|change|extend|modify|adjust|migrate|switch|move|add\s+\S+\s+to)\s+(?:\S+\s+){{0,2}}?"
    rf"(?:the\s+)?{_CI_NOUN}\b{_CI_NOT}",
    rf"\b{_CI_NOUN}\s+(?:\S+\s+){{0,3}}?(?:anpassen|aktualisieren|erweitern|umstellen|ändern)",
    rf"(?:^|\s)(?:{CI_FILES})",
)
"""A ticket that explicitly asks to change an existing CI definition (or names its file)."""
PIPELINE_ASKS = _any(
    rf"\b(?:add|create|set\s*up|setup|introduce|configure|enable|bootstrap|write|need|want)\b(?:\s+\S+){{0,3}}?\s+"
    rf"{_CI_NOUN}\b{_CI_NOT}",
    rf"\b(?:no|missing|without(?:\s+a(?:ny)?)?|has\s+no|lacks?(?:\s+a(?:ny)?)?)\s+(?:\S+\s+)?{_CI_NOUN}\b{_CI_NOT}",
    r"\brun\s+(?:the\s+)?tests\s+(?:automatically\s+)?on\s+(?:every|each|all)\s+(?:prs?|pull\s+requests?|push(?:es)?"
    r"|commits?)\b",
    r"\bevery\s+(?:pr|pull\s+request|push|commit)\s+(?:\w+\s+){0,2}?runs?\s+(?:the\s+)?tests\b",
    rf"\b{_CI_NOUN}\s+(?:\S+\s+){{0,4}}?(?:hinzufügen|anlegen|einrichten|erstellen|aufsetzen|einführen|ergänzen"
    r"|konfigurieren)",
    rf"\b(?:kein(?:e|en)?|fehlende?n?|ohne)\s+{_CI_NOUN}\b{_CI_NOT}",
    r"\btests\s+(?:bei|für)\s+jede[nm]?\s+(?:pr|pull\s+request|push|commit)\s+(?:automatisch\s+)?ausführen",
    CI_CHANGE_ASKS.pattern,
)

# --- lint ---------------------------------------------------------------------------------------------------
_LINTERS = r"(?:ruff|flake8|pylint|pyflakes|pycodestyle|eslint)"
LINT_ASKS = _any(
    r"\blint(?:er|ing)?[ -]?(?:errors?|warnings?|findings?|issues?|violations?|failures?|fehler|warnungen|befunde"
    r"|meldungen)\b",
    r"\bfix\s+(?:the\s+|all\s+)?lint\b|^\s*lint\s*:",
    rf"\b{_LINTERS}[ -]?(?:\S+\s+){{0,2}}?(?:errors?|warnings?|findings?|issues?|violations?|complaints?|reports?"
    r"|fehler|warnungen|befunde|meldungen)\b",
    rf"\b(?:fix|resolve|clean\s+up|address|silence)\s+(?:all\s+|the\s+)?{_LINTERS}\b",
    r"\bunused\s+(?:imports?|variables?)\b|\b(?:ungenutzte|unbenutzte|nicht\s+(?:verwendete|genutzte)|überflüssige)"
    r"\s+(?:importe?|imports|variablen)\b",
    r"\b(?:fix|resolve|clean\s+up|beheben)\s+(?:\S+\s+){0,2}?[EFW]\d{3}\b|\b[EFW]\d{3}\s+(?:findings?|errors?|warnings?"
    r"|befunde)\b",
)
LINT_NOT = _any(r"\badd\s+(?:a\s+)?(?:linter|ruff|flake8|pylint)\b", r"\b(?:linter|ruff)\s+(?:to|in)\s+(?:the\s+)?ci\b")

# --- docs ---------------------------------------------------------------------------------------------------
DOCS_ASKS = _any(
    r"\btypos?\b|\bmisspel\w*|\bspelling\s+(?:mistakes?|errors?)\b|\btippfehler\w*|\brechtschreib\w*"
    r"|\bschreibfehler\w*",
    r"\breadme\b|\bchangelog\b|\bcontributing(?:\.md)?\b|\bdocstrings?\b|\buser\s+guide\b",
    r"\b(?:fix|update|improve|extend|rewrite|expand|clarify|correct|write|add)\s+(?:\S+\s+){0,2}?"
    r"(?:docs?|documentation)\b",
    r"\b(?:document|explain|describe)\s+(?:\S+\s+){0,5}?(?:in|im)\s+(?:the\s+|den\s+|der\s+)?(?:readme|docs?"
    r"|documentation|dokumentation|doku)\b",
    r"^\s*docs?\s*:|^\s*(?:document|dokumentiere)\b|\bdokumentation\b|\bdoku\b|\bdokumentieren\b",
)

# --- dependency bumps ---------------------------------------------------------------------------------------
_PACKAGE = r"(?P<package>@?[A-Za-z_][\w@/.\-]*(?:\[[\w,\-]+\])?)"
_VERSION = r"v?(?P<version>\d[\w.+\-]*)"
_PACKAGE_WORD = r"(?:dependency|package|library|lib|module|abhängigkeit|paket|bibliothek)"
BUMP_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        rf"\b(?:bump|upgrade|update|raise|pin)\s+(?:the\s+)?(?:{_PACKAGE_WORD}\s+)?{_PACKAGE}"
        rf"(?:\s+{_PACKAGE_WORD})?(?:\s+from\s+(?:version\s+)?v?\S+)?\s+to\s+(?:version\s+)?{_VERSION}",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?:\b(?:die\s+|das\s+)?{_PACKAGE_WORD}\s+)?{_PACKAGE}\s+(?:von\s+(?:version\s+)?v?\S+\s+)?auf\s+"
        rf"(?:(?:die\s+)?version\s+)?{_VERSION}\s+(?:aktualisieren|anheben|heben|updaten|upgraden|hochziehen"
        r"|bringen|setzen|pinnen|aktualisiert|angehoben)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?:update|upgrade|bump|aktualisierung|anhebung)\s+(?:von\s+|der\s+|des\s+)?(?:{_PACKAGE_WORD}\s+)?"
        rf"{_PACKAGE}\s+(?:von\s+v?\S+\s+)?auf\s+(?:version\s+)?{_VERSION}",
        re.IGNORECASE,
    ),
)
"""'Bump requests to 2.32.3', 'Upgrade lodash from 4.17.20 to v4.17.21', 'chore(deps): bump requests from
2.31.0 to 2.32.3', 'Abhängigkeit requests auf 2.32.3 aktualisieren', 'Update von Django auf 5.1'."""

NOT_PACKAGES = frozenset("""
the a an it this that our all version versions timeout timeouts limit limits size default max min retries retry
interval threshold ttl cache port year copyright title label message text page pagesize value values setting
settings config configuration python python3 node nodejs java jdk dotnet .net net ubuntu debian alpine windows
macos image docker runtime sdk it's docs readme changelog schema api endpoint ci pipeline der die das den
""".split())
"""Words after 'update … to' that name a setting, a runtime or a document, never a declared package."""

_UNIT_AFTER_VERSION = re.compile(
    r"\s*(?:s|secs?|seconds?|mins?|minutes?|ms|milliseconds?|h|hours?|days?|weeks?|%|percent|items?|rows?|entries"
    r"|mb|gb|kb|px|retries|times|requests?|per\b|sekunden|minuten|stunden|tage[n]?|prozent|einträge|zeilen)\b",
    re.IGNORECASE,
)


def find_bump(text: str) -> tuple[str, str] | None:
    """(package, version text) of the first 'bump <package> to <version>' phrase in `text`, None when there is
    none. A number with a unit ('30 seconds') or a setting's name ('timeout') is not a package version."""
    for line in text.splitlines():
        for pattern in BUMP_PATTERNS:
            for match in pattern.finditer(line):
                package, version = match["package"], match["version"].rstrip(".,;:")
                if package.lower() in NOT_PACKAGES or _UNIT_AFTER_VERSION.match(line, match.end()):
                    continue
                if "." not in version and not re.search(rf"\b{_PACKAGE_WORD}|\bdeps\b|\bnpm\b|\bpip\b", line, re.I):
                    continue
                return package, version
    return None


KIND_RULES: tuple[KindRule, ...] = (
    KindRule(ChangeKind.SECRET_REMEDIATION, RiskClass.R3, SECRET_ASKS,
             "an exposed credential must be scrubbed (and rotated): always a named approver", in_description=True),
    KindRule(ChangeKind.PIPELINE, RiskClass.R1, PIPELINE_ASKS,
             "a missing or outdated CI definition: small and self-verifying (the pipeline runs on the PR)",
             in_description=True),
    KindRule(ChangeKind.DEPENDENCY_BUMP, RiskClass.R1, BUMP_PATTERNS[0],
             "a named package to a named version; the text cannot tell a major bump, the `major` tag can",
             in_description=True),
    KindRule(ChangeKind.LINT_FIX, RiskClass.R0, LINT_ASKS,
             "behaviour-preserving by construction (ruff's fixes); formatting and layout are not lint", LINT_NOT),
    KindRule(ChangeKind.DOCS, RiskClass.R0, DOCS_ASKS, "text only; merges on green"),
)
"""Each rule names one kind; a text matching rules of two kinds is unsure, hence a feature."""

FEATURE_RISK = RiskClass.R2
"""Anything the rules do not pin down is open-ended work a language model writes: a person looks before merge."""

ALWAYS_FEATURE_TYPES = frozenset({"epic"})
"""Work item types no single playbook can finish."""


def read_kind(title: str, description: str, work_item_type: str) -> tuple[ChangeKind, RiskClass]:
    """The kind the text asks for and its planned class, before any floor: the title's one kind, else the
    description's one kind among the rules that count there, else `feature`."""
    if work_item_type.strip().lower() in ALWAYS_FEATURE_TYPES:
        return ChangeKind.FEATURE, FEATURE_RISK
    in_title = _matching(KIND_RULES, title)
    rules = in_title or _matching([r for r in KIND_RULES if r.in_description], description)
    if len({rule.kind for rule in rules}) != 1:
        return ChangeKind.FEATURE, FEATURE_RISK
    return rules[0].kind, rules[0].risk


def asks_to_change_ci(text: str) -> bool:
    """Whether the text explicitly asks to change an existing CI definition."""
    return CI_CHANGE_ASKS.search(text) is not None


def _matching(rules: Iterable[KindRule], text: str) -> list[KindRule]:
    return [rule for rule in rules if text.strip() and rule.matches(text)]
