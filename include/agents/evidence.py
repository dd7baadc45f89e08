"""Acceptance criteria become evidence: each PO criterion is verified where it can be, from the PR branch's
working copy, the scanners and the Test step's run, and the Reviewer comments on every one, met or unmet.

The verifiers are a table tried in order; the first that recognises the criterion decides. A criterion no
verifier recognises is left to a person (`person`), never guessed: a keyword match may only ever say "this is a
check of kind X", and the verdict then comes from the repository, not from the wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from include.agents import tools
from include.agents.workspace import repo_files
from include.contracts.agent import AcceptanceItem
from include.contracts.evidence import CriterionEvidence, CriterionStatus

_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:ya?ml|toml|txt|cfg|ini|json|md|rst|py|js|ts|cs|csproj))\b")
_PINNED_AT = re.compile(r"\b(?P<name>[A-Za-z][\w.-]*) is pinned at v?(?P<version>\d[\w.+-]*\w)")
_PIN = re.compile(r"\b([A-Za-z][\w.-]*)\s*(==|>=|~=)\s*(\d[\w.+-]*)")
_TEST_NAME = re.compile(r"\b(test_\w+)\b")
_QUOTED = re.compile(r"`([^`\n]{2,120})`|\"([^\"\n]{2,120})\"|'([^'\n]{2,120})'")
_GONE = re.compile(r"\b(?:no longer (?:occurs?|appears?|exists?)|is gone|(?:is |are )?removed"
                   r"|does not (?:occur|appear))|\bnicht mehr\b|\bentfernt\b", re.I)
_RULE_CODE = re.compile(r"\b([A-Z]{1,3}\d{3,4})\b")
_NO_SECRETS = re.compile(r"secret|credential|detect-secrets|api[ _-]?key|token|schlüssel|geheim", re.I)


@dataclass(frozen=True)
class Context:
    """What the verifiers may look at."""

    workdir: Path
    changed: list[str]
    tests_passed: bool | None
    """The Test step's verdict on this branch; None when it did not run."""


Verifier = Callable[[AcceptanceItem, Context], CriterionEvidence | None]


def verify(items: list[AcceptanceItem], context: Context) -> list[CriterionEvidence]:
    """One piece of evidence per criterion, in the checklist's order."""
    return [next((found for verifier in VERIFIERS if (found := verifier(item, context)) is not None),
                 _result(item, CriterionStatus.PERSON, "not machine-checkable: a reviewer confirms it"))
            for item in items]


def unmet(evidence: list[CriterionEvidence]) -> list[CriterionEvidence]:
    return [item for item in evidence if item.status is CriterionStatus.UNMET]


def comment_body(evidence: list[CriterionEvidence]) -> str:
    """The Reviewer's comment: every criterion with its status and evidence."""
    marks = {CriterionStatus.MET: "✅ met", CriterionStatus.UNMET: "❌ unmet",
             CriterionStatus.PERSON: "👤 for a person", CriterionStatus.AFTER_MERGE: "⏭ after merge"}
    lines = ["**Acceptance criteria**", "", "| criterion | status | evidence |", "|---|---|---|"]
    lines += [f"| {_cell(e.text)} | {marks[e.status]} | {_cell(e.evidence)} |" for e in evidence]
    if unmet(evidence):
        lines += ["", "An unmet criterion blocks the merge of R1 and above unless a person approves it at the gate."]
    return "\n".join(lines)


def _tests(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    named = _TEST_NAME.findall(item.text)
    if named:
        missing = [name for name in named if not _defined(context.workdir, name)]
        if missing:
            return _result(item, CriterionStatus.UNMET, f"no test named {', '.join(missing)} in the repository")
        return _suite(item, context, f"{', '.join(named)} defined; ")
    if item.check == "tests":
        return _suite(item, context, "")
    return None


def _suite(item: AcceptanceItem, context: Context, prefix: str) -> CriterionEvidence:
    if context.tests_passed is None:
        return _result(item, CriterionStatus.PERSON, f"{prefix}the test step did not run")
    if context.tests_passed:
        return _result(item, CriterionStatus.MET, f"{prefix}the test suite passed on the PR branch")
    return _result(item, CriterionStatus.UNMET, f"{prefix}the test suite failed on the PR branch")


def _pinned(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    pins = _PIN.findall(item.text)
    if not pins:
        return None
    paths = [p for p in _PATH.findall(item.text) if (context.workdir / p).is_file()] or _requirement_files(context)
    for name, operator, version in pins:
        wanted = re.compile(rf"(?im)^\s*[\"']?{re.escape(name)}\s*{re.escape(operator)}\s*{re.escape(version)}\b")
        where = [p for p in paths if wanted.search((context.workdir / p).read_text(encoding="utf-8", errors="replace"))]
        if not where:
            return _result(item, CriterionStatus.UNMET, f"{name}{operator}{version} is in none of {', '.join(paths)}")
    return _result(item, CriterionStatus.MET, f"pinned in {', '.join(where)}")


def _pinned_at(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    """"<package> is pinned at <version>" (the PO's implied check for a bump): every declaration of the package
    admits the version and at least one pins it exactly; a library's range that already admits it is left alone
    by the bump playbook, so it counts as admitting, not as a pin."""
    found = _PINNED_AT.search(item.text)
    if found is None:
        return None
    name, version = canonicalize_name(found["name"]), Version(found["version"])
    declared: list[tuple[str, Requirement]] = []
    for path in _requirement_files(context):
        for line in _read(context.workdir / path).splitlines():
            quoted = (m.group(1) for m in re.finditer(r"[\"']([^\"']+)[\"']", line))  # pyproject / setup.cfg
            for spec in [line.split(" #", 1)[0].strip(), *quoted]:
                try:
                    requirement = Requirement(spec)
                except InvalidRequirement:
                    continue
                if canonicalize_name(requirement.name) == name:
                    declared.append((path, requirement))
    excluding = [f"{path}: {req}" for path, req in declared if not req.specifier.contains(version, prereleases=True)]
    exact = [path for path, req in declared if any(s.operator == "==" and Version(s.version) == version
                                                   for s in req.specifier if "*" not in s.version)]
    if excluding or not exact:
        what = f"still excluded by {', '.join(excluding)}" if excluding else "pinned exactly nowhere"
        return _result(item, CriterionStatus.UNMET, f"{found['name']} {version}: {what}")
    return _result(item, CriterionStatus.MET, f"{found['name']}=={version} in {', '.join(sorted(set(exact)))}")


def _secrets(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    if item.check != "scan" and not _NO_SECRETS.search(item.text):
        return None
    named = [p for p in _PATH.findall(item.text) if (context.workdir / p).is_file()]
    scope = named or [p for p in context.changed if (context.workdir / p).is_file()]
    if not scope:
        return _result(item, CriterionStatus.MET, "no changed file left to scan")
    if not (item.check == "scan" or re.search(r"\bno\b|\bkein|remov|entfern|gone|not", item.text, re.I)):
        return None
    found = tools.secret_findings(context.workdir, scope)
    if found:
        where = ", ".join(sorted({f"{f['filename']}:{f['line_number']}" for f in found}))
        return _result(item, CriterionStatus.UNMET, f"detect-secrets still finds a secret at {where}")
    return _result(item, CriterionStatus.MET, f"detect-secrets finds nothing in {', '.join(scope[:5])}"
                   + (f" and {len(scope) - 5} more" if len(scope) > 5 else ""))


def _lint(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    if not re.search(r"\bruff\b|\blint|\bflake8\b", item.text, re.I):
        return None
    python = [p for p in context.changed if p.endswith(".py") and (context.workdir / p).is_file()]
    codes = set(_RULE_CODE.findall(item.text))
    found = [f for f in tools.ruff_findings(context.workdir, python) if not codes or f.get("code") in codes]
    scope = f"{' '.join(sorted(codes)) or 'any rule'} in {len(python)} changed Python file(s)"
    if found:
        where = ", ".join(f"{f['filename']}:{f['location']['row']} {f['code']}" for f in found[:5])
        return _result(item, CriterionStatus.UNMET, f"ruff reports {len(found)} finding(s) for {scope}: {where}")
    return _result(item, CriterionStatus.MET, f"ruff reports no finding for {scope}")


def _docs(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    if item.check == "docs" and re.search(r"changelog", item.text, re.I):
        return _result(item, CriterionStatus.AFTER_MERGE, "the docs step writes it from the merged commit")
    return None


def _gone(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    if not _GONE.search(item.text):
        return None
    quoted = [next(g for g in match if g) for match in _QUOTED.findall(item.text)]
    if not quoted:
        return None
    files = repo_files(context.workdir)
    for text in quoted:
        hits = [p for p in files if text in _read(context.workdir / p)]
        if hits:
            return _result(item, CriterionStatus.UNMET, f"{text!r} still occurs in {', '.join(hits[:5])}")
    return _result(item, CriterionStatus.MET, f"{', '.join(map(repr, quoted))} occurs nowhere in the tree")


def _file_exists(item: AcceptanceItem, context: Context) -> CriterionEvidence | None:
    if not re.search(r"\bexists?\b|\bis added\b|\bvorhanden\b|\bexistiert\b", item.text, re.I):
        return None
    paths = _PATH.findall(item.text)
    if not paths:
        return None
    missing = [p for p in paths if not (context.workdir / p).is_file()]
    if missing:
        return _result(item, CriterionStatus.UNMET, f"{', '.join(missing)} does not exist on the PR branch")
    return _result(item, CriterionStatus.MET, f"{', '.join(paths)} exists on the PR branch")


VERIFIERS: tuple[Verifier, ...] = (_docs, _pinned_at, _pinned, _tests, _lint, _secrets, _gone, _file_exists)
"""Ordered: a pin or a named test is checked as such even when the criterion also mentions a file."""


def _defined(workdir: Path, test_name: str) -> bool:
    pattern = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(test_name)}\s*\(", re.M)
    return any(pattern.search(_read(workdir / p)) for p in repo_files(workdir) if p.endswith(".py"))


def _requirement_files(context: Context) -> list[str]:
    return [p for p in repo_files(context.workdir)
            if re.search(r"(^|/)(requirements[^/]*\.txt|pyproject\.toml|setup\.cfg)$", p)]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _result(item: AcceptanceItem, status: CriterionStatus, evidence: str) -> CriterionEvidence:
    return CriterionEvidence(text=item.text, check=item.check, status=status, evidence=evidence)
