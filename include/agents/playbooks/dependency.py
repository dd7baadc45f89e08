"""DEPENDENCY_BUMP: raise a package's pin to the version the ticket names, touching only the version text so
the diff is one line per pin.

Requirements files pin an application's environment: their `==`, `~=` and `>=` pins are raised. Library
metadata (pyproject.toml, setup.cfg) states what the library works with: a range that already admits the new
version is left alone (raising its lower bound would narrow it for every user), an exact `==` pin is raised,
and a range that excludes the new version is refused with the reason, for a person to widen."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from include.agents.errors import AgentError
from include.agents.playbooks.text import ticket_text
from include.agents.workspace import repo_files
from include.contracts import Ticket
from include.policies.kinds import find_bump
from include.scm import FileChange

_PINNING_OPERATORS = ("==", "~=", ">=")
_CFG_ENTRY = re.compile(r"^[A-Za-z_][\w.-]*\s*=(?!=)\s*(?P<requirement>.*)$")
_QUOTED = re.compile(r"\"(?P<double>[^\"\n]+)\"|'(?P<single>[^'\n]+)'")


def parse_bump(ticket: Ticket) -> tuple[str, Version]:
    """(package, version) from "bump <package> to <version>" in the title, else the description; the same
    phrases the classifier used to call the ticket a dependency bump."""
    found = find_bump(ticket_text(ticket))
    if found is not None:
        package, version = found
        try:
            return package.split("[", 1)[0], Version(version)
        except InvalidVersion:
            pass
    raise AgentError(
        f"ticket {ticket.ticket_key}: found no 'bump <package> to <version>' in the title or description "
        f"({ticket.title!r}); write it like 'Bump requests to 2.32.3'"
    )


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    package, version = parse_bump(ticket)
    return bump(workdir, package, version)


def bump(workdir: Path, package: str, version: Version) -> list[FileChange]:
    """Rewrite every version pin of `package`. A pin already at `version` is left alone (a retried step
    sees its own earlier commit); a missing package or a pin that would go down is an error."""
    candidates = [p for p in repo_files(workdir) if _is_requirements_file(p) or _is_metadata(p)]
    changes: list[FileChange] = []
    found = False
    for path in candidates:
        original = (workdir / path).read_text(encoding="utf-8")
        lines = original.splitlines(keepends=True)
        for index, line in enumerate(lines):
            rewritten, matched = _bump_line(line, path, package, version)
            found = found or matched
            lines[index] = rewritten
        updated = "".join(lines)
        if updated != original:
            changes.append(FileChange(path=path, content=updated))
    if not found:
        raise AgentError(
            f"package {package!r} has no version pin in {', '.join(candidates) or 'this repository'}: "
            "looked in requirements*.txt, pyproject.toml and setup.cfg (other ecosystems need a person or a model)"
        )
    return changes


def _is_requirements_file(path: str) -> bool:
    posix = PurePosixPath(path)
    return posix.suffix == ".txt" and (posix.name.startswith("requirements") or "requirements" in posix.parts)


def _is_metadata(path: str) -> bool:
    """Library metadata, whose ranges are promises to users, not pins of one environment."""
    return PurePosixPath(path).name in ("pyproject.toml", "setup.cfg")


def _bump_line(line: str, path: str, package: str, version: Version) -> tuple[str, bool]:
    """(line with the pin raised, whether the line pins `package`)."""
    if path.endswith(".toml"):
        found = False
        for quoted in _QUOTED.finditer(line):
            body = quoted["double"] or quoted["single"]
            new_body, matched = _bump_spec(body, package, version, path)
            if matched:
                found = True
                line = line.replace(quoted.group(0), quoted.group(0).replace(body, new_body, 1), 1)
        return line, found
    spec = line.split(" #", 1)[0].strip()
    entry = _CFG_ENTRY.match(spec) if path.endswith(".cfg") else None
    if entry:
        spec = entry["requirement"].strip()  # `extra = requirement` under [options.extras_require]
    if not spec or spec.startswith(("#", "-", "[")):
        return line, False
    new_spec, matched = _bump_spec(spec, package, version, path)
    return line.replace(spec, new_spec, 1), matched


def _bump_spec(spec: str, package: str, version: Version, path: str) -> tuple[str, bool]:
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        return spec, False
    if canonicalize_name(requirement.name) != canonicalize_name(package):
        return spec, False
    pins = [s for s in requirement.specifier if s.operator in _PINNING_OPERATORS and "*" not in s.version]
    if not pins:
        return spec, False
    if _is_metadata(path):
        return _metadata_spec(spec, requirement, version, path), True
    for pin in pins:
        current = Version(pin.version)
        if current > version:
            raise AgentError(f"{path}: {spec!r} is newer than {version}; a bump never downgrades")
        pattern = rf"{re.escape(pin.operator)}\s*{re.escape(pin.version)}"
        spec = re.sub(pattern, f"{pin.operator}{version}", spec, count=1)
    if not Requirement(spec).specifier.contains(version, prereleases=True):
        raise AgentError(f"{path}: {spec!r} still excludes {version}; widen its upper bound by hand")
    return spec, True


def _metadata_spec(spec: str, requirement: Requirement, version: Version, path: str) -> str:
    """Library metadata: an exact pin is raised; a range that admits `version` stays as it is; a range that
    excludes it is refused, since widening a library's promise is a person's decision."""
    exact = [s for s in requirement.specifier if s.operator == "=="]
    if exact and len(list(requirement.specifier)) == 1:
        if Version(exact[0].version) > version:
            raise AgentError(f"{path}: {spec!r} is newer than {version}; a bump never downgrades")
        return re.sub(rf"==\s*{re.escape(exact[0].version)}", f"=={version}", spec, count=1)
    if requirement.specifier.contains(version, prereleases=True):
        return spec
    raise AgentError(f"{path}: the range {spec!r} excludes {version}; library metadata is not narrowed or "
                     "widened by a playbook: change the range by hand")
