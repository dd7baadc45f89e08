"""What must hold in the repository before a playbook is chosen: the evidence that the ticket's words name
something the playbook can change. The PO step checks it on a read-only checkout of the default branch; a
playbook never runs on a ticket whose precondition failed (include/policies/understanding.py decides what
happens instead). Each check returns whether it holds and one sentence a person can act on."""

from __future__ import annotations

import configparser
import tomllib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from include.agents import tools
from include.agents.errors import AgentError
from include.agents.playbooks import dependency, typo
from include.agents.playbooks import dependency_npm as npm
from include.agents.playbooks import dependency_nuget as nuget
from include.agents.playbooks import pipeline as ci_template
from include.agents.playbooks.lint import lint_rules, lint_scope
from include.agents.playbooks.text import ticket_text
from include.agents.workspace import repo_files
from include.contracts import ChangeKind, Ticket
from include.policies.kinds import asks_to_change_ci, find_bump


@dataclass(frozen=True)
class Precondition:
    ok: bool
    reason: str


def check(ticket: Ticket, workdir: Path, forge: str = "local") -> Precondition:
    """The precondition of the ticket's kind; a `feature` ticket has no playbook and nothing to check."""
    if ticket.change_kind is ChangeKind.PIPELINE:
        return ci_wanted(ticket, workdir, forge)
    found = PRECONDITIONS.get(ticket.change_kind)
    if found is None:
        return Precondition(True, "no playbook: nothing to check in the repository")
    return found(ticket, workdir)


# --- dependency bump ----------------------------------------------------------------------------------------
def bump_declared(ticket: Ticket, workdir: Path) -> Precondition:
    """The ticket names a package and a version that parses, and the repository declares the package."""
    found = find_bump(ticket_text(ticket))
    if found is None:
        return Precondition(False, "the ticket names no package and version ('bump <package> to <version>')")
    package, text = found
    package = package.split("[", 1)[0]
    if not dependency.is_version(text):
        return Precondition(False, f"{text!r} is not a version number")
    where = declared_in(workdir, package)
    if not where:
        return Precondition(False, f"the repository declares no package {package!r} (looked in requirements*.txt, "
                                   "pyproject.toml, setup.cfg, package.json, *.csproj and Directory.Packages.props)")
    return Precondition(True, f"{package} is declared in {', '.join(where)}; the ticket asks for {text}")


def declared_in(workdir: Path, package: str) -> list[str]:
    """The dependency files that declare `package`, each compared as its ecosystem (and the bump playbook)
    compares names: Python's normalised, npm's exactly (scopes included), NuGet's case-blind."""
    found = []
    for path, names in declarations(workdir):
        if npm.is_manifest(path):
            declared = package in names
        elif nuget.is_project_file(path):
            declared = package.casefold() in {name.casefold() for name in names}
        else:
            declared = canonicalize_name(package) in {canonicalize_name(name) for name in names}
        if declared:
            found.append(path)
    return found


def declarations(workdir: Path) -> Iterator[tuple[str, list[str]]]:
    """(file, declared package names) for every dependency file of the working copy."""
    for path in repo_files(workdir):
        name = PurePosixPath(path).name
        reader = _READERS.get(name) or (nuget.declared_names if nuget.is_project_file(path) else None)
        if reader is None and name.endswith(".txt") and (name.startswith("requirements") or "requirements" in path):
            reader = _requirements
        if reader is not None:
            try:
                yield path, reader((workdir / path).read_text(encoding="utf-8"))
            except (ValueError, ElementTree.ParseError, configparser.Error, UnicodeDecodeError):
                continue  # an unreadable file declares nothing we could bump


def _names(lines: list[str]) -> list[str]:
    names = []
    for line in lines:
        spec = line.split(" #", 1)[0].strip()
        if not spec or spec.startswith(("#", "-")):
            continue
        try:
            names.append(Requirement(spec).name)
        except InvalidRequirement:
            continue
    return names


def _requirements(text: str) -> list[str]:
    return _names(text.splitlines())


def _pyproject(text: str) -> list[str]:
    data = tomllib.loads(text)
    project = data.get("project", {})
    specs = list(project.get("dependencies", []))
    specs += [spec for group in project.get("optional-dependencies", {}).values() for spec in group]
    specs += [spec for group in data.get("dependency-groups", {}).values() for spec in group if isinstance(spec, str)]
    poetry = data.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {}),
              *(group.get("dependencies", {}) for group in poetry.get("group", {}).values())]
    return _names(specs) + [name for table in tables for name in table if name != "python"]


def _setup_cfg(text: str) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    lines = parser.get("options", "install_requires", fallback="").splitlines()
    if parser.has_section("options.extras_require"):
        lines += [line for _, value in parser.items("options.extras_require") for line in value.splitlines()]
    return _names(lines)


_READERS: dict[str, Callable[[str], list[str]]] = {
    "pyproject.toml": _pyproject, "setup.cfg": _setup_cfg, "package.json": npm.declared_names,
}


# --- secrets ------------------------------------------------------------------------------------------------
def secret_found(ticket: Ticket, workdir: Path) -> Precondition:
    """detect-secrets reports at least one finding in the working copy."""
    findings = tools.secret_findings(workdir)
    if not findings:
        return Precondition(False, "detect-secrets finds no secret in the repository")
    places = sorted({f"{finding['filename']}:{finding['line_number']}" for finding in findings})
    return Precondition(True, f"detect-secrets finds a secret at {', '.join(places)}")


# --- lint ---------------------------------------------------------------------------------------------------
def lint_findings_in_scope(ticket: Ticket, workdir: Path) -> Precondition:
    """ruff (with the repository's configuration, or the rules the ticket names) has findings it can fix within
    the ticket's scope."""
    scope, rules = lint_scope(ticket, workdir), lint_rules(ticket)
    findings = tools.ruff_findings(workdir, scope or ["."], select=rules)
    fixable = [f for f in findings if f.get("fix") and f["fix"].get("applicability", "safe") == "safe"]
    where = ", ".join(scope) if scope else "the repository"
    if not fixable:
        left = f" ({len(findings)} need a person: ruff cannot fix them safely)" if findings else ""
        named = f" for {', '.join(rules)}" if rules else ""
        return Precondition(False, f"ruff finds nothing it can fix{named} in {where}{left}")
    codes = sorted({f["code"] for f in fixable if f.get("code")})
    return Precondition(True, f"ruff can fix {len(fixable)} finding(s) ({', '.join(codes)}) in {where}")


# --- CI -----------------------------------------------------------------------------------------------------
def ci_wanted(ticket: Ticket, workdir: Path, forge: str) -> Precondition:
    """The forge's CI file is missing, or the ticket explicitly asks to change it."""
    ci = ci_template.forge_ci(forge)
    existing = ci_template.existing_ci(workdir, forge)
    if not existing:
        return Precondition(True, f"the repository has no {ci.name} definition ({ci.path})")
    if asks_to_change_ci(ticket_text(ticket)):
        return Precondition(True, f"the ticket asks to change the {ci.name} definition ({', '.join(existing)})")
    return Precondition(False, f"the repository already has {ci.name} ({', '.join(existing)}) and the ticket "
                               "does not ask to change it")


# --- typo ---------------------------------------------------------------------------------------------------
def typo_present(ticket: Ticket, workdir: Path) -> Precondition:
    """The ticket quotes the wrong text, and it occurs in the files the docs playbook edits."""
    try:
        fixes = typo.corrections(ticket)
    except AgentError:
        return Precondition(False, "the ticket quotes no typo to fix ('wrong' -> 'right', or a quoted "
                                   "well-known misspelling)")
    targets = typo.target_files(ticket, workdir)
    for path in targets:
        text = (workdir / path).read_text(encoding="utf-8", errors="replace")
        present = [wrong for wrong in fixes if typo.occurrence(wrong).search(text)]
        if present:
            return Precondition(True, f"{', '.join(map(repr, present))} occurs in {path}")
    return Precondition(False, f"{', '.join(map(repr, fixes))} does not occur in "
                               f"{', '.join(targets) or 'a README or a file the title names'}")


PRECONDITIONS: dict[ChangeKind, Callable[[Ticket, Path], Precondition]] = {
    ChangeKind.DEPENDENCY_BUMP: bump_declared,
    ChangeKind.SECRET_REMEDIATION: secret_found,
    ChangeKind.LINT_FIX: lint_findings_in_scope,
    ChangeKind.DOCS: typo_present,
}
"""Per playbook kind; PIPELINE's also needs the forge, see `check`."""
