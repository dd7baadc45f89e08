"""DEPENDENCY_BUMP: raise a package's pin to the version the ticket names, touching only the version text so
the diff is one line per pin.

Requirements files pin an application's environment: their `==`, `~=` and `>=` pins are raised. Library
metadata (pyproject.toml, setup.cfg) states what the library works with: a range that already admits the new
version is left alone (raising its lower bound would narrow it for every user), an exact `==` pin is raised,
and a range that excludes the new version is refused with the reason, for a person to widen.

package.json (dependency_npm.py) and .NET project and props files (dependency_nuget.py) are bumped with the same
care, each by its ecosystem's rules for names, versions and ranges. Lock files are never edited by hand: the
playbook's log names the command that regenerates each one the change left behind."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from include.agents.errors import AgentError
from include.agents.playbooks import dependency_npm as npm
from include.agents.playbooks import dependency_nuget as nuget
from include.agents.playbooks.text import ticket_text
from include.agents.workspace import repo_files
from include.contracts import Ticket
from include.contracts.agent import StaleLockFile
from include.policies.kinds import find_bump
from include.scm import FileChange

log = logging.getLogger(__name__)

_PINNING_OPERATORS = ("==", "~=", ">=")
_CFG_ENTRY = re.compile(r"^[A-Za-z_][\w.-]*\s*=(?!=)\s*(?P<requirement>.*)$")
_QUOTED = re.compile(r"\"(?P<double>[^\"\n]+)\"|'(?P<single>[^'\n]+)'")


def parse_bump(ticket: Ticket) -> tuple[str, Version]:
    """(package, version) from "bump <package> to <version>" in the title, else the description; the same
    phrases the classifier used to call the ticket a dependency bump. The version as Python reads it (PEP 440);
    `requested` keeps the text for the ecosystems that write it differently."""
    package, text = requested(ticket)
    try:
        return package, Version(text)
    except InvalidVersion:
        raise AgentError(f"ticket {ticket.ticket_key}: {text!r} is not a PEP 440 version") from None


def requested(ticket: Ticket) -> tuple[str, str]:
    """(package, version text as the ticket wrote it, less a leading `v`); the text must be a version in at
    least one ecosystem (PEP 440, npm's semver, NuGet), which the pins that take it then check again."""
    found = find_bump(ticket_text(ticket))
    if found is not None and is_version(found[1]):
        return found[0].split("[", 1)[0], found[1]
    raise AgentError(
        f"ticket {ticket.ticket_key}: found no 'bump <package> to <version>' in the title or description "
        f"({ticket.title!r}); write it like 'Bump requests to 2.32.3'"
    )


def is_version(text: str) -> bool:
    """A version number in some ecosystem the playbook edits; `2.x` or `latest` is none."""
    return _pep440(text) is not None or npm.parse_target(text) is not None or nuget.parse_version(text) is not None


def _pep440(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    package, version = requested(ticket)
    return bump(workdir, package, version)


def bump(workdir: Path, package: str, version: Version | str) -> list[FileChange]:
    """Rewrite every version pin of `package`: Python names compared normalised, npm names exactly (`@types/node`),
    NuGet ids case-blind. A pin already at `version` is left alone (a retried step sees its own earlier commit);
    a missing package or a pin that would go down is an error. What a person should know (a lock file to
    regenerate, a pin the playbook cannot read) goes to the log."""
    text = str(version)
    python = version if isinstance(version, Version) else _pep440(text)
    files = repo_files(workdir)
    changes: list[FileChange] = []
    notes: list[str] = []
    looked: list[str] = []
    found = False
    for path in files:
        python_file = _is_requirements_file(path) or _is_metadata(path)
        if not (python_file or npm.is_manifest(path) or nuget.is_project_file(path)):
            continue
        looked.append(path)
        try:
            original = (workdir / path).read_bytes().decode("utf-8")  # bytes: keeps CRLF line ends as they are
        except UnicodeDecodeError:
            notes.append(f"{path} is not UTF-8; not read")
            continue
        if python_file:
            updated, matched = _bump_python(original, path, package, python, text)
        else:
            edit = npm.bump_manifest if npm.is_manifest(path) else nuget.bump_project
            try:
                updated, matched, file_notes = edit(path, original, package, text)
            except json.JSONDecodeError as error:
                updated, matched, file_notes = original, False, [f"{path} is not valid JSON ({error}); not read"]
            notes += file_notes
        found = found or matched
        if updated != original:
            changes.append(FileChange(path=path, content=updated))
    if not found:
        raise AgentError(
            f"package {package!r} has no version pin in {', '.join(looked) or 'this repository'}: looked in "
            "requirements*.txt, pyproject.toml, setup.cfg, package.json, *.csproj (*.fsproj, *.vbproj), "
            "Directory.Packages.props and Directory.Build.props" + "".join(f"; {note}" for note in notes)
        )
    for note in notes:
        log.info("bump %s to %s: %s", package, text, note)
    for change in changes:
        lock_notes = (npm.lockfile_notes(files, change.path) if npm.is_manifest(change.path)
                      else nuget.lockfile_notes(files, change.path) if nuget.is_project_file(change.path) else [])
        for note in lock_notes:
            log.warning("bump %s to %s: %s", package, text, note)
    return changes


def stale_lock_files(files: list[str], changed: list[str]) -> list[StaleLockFile]:
    """The lock files that the `changed` npm manifests and NuGet project/props files leave out of step, less
    those `changed` regenerated too (a person pushed them to the branch)."""
    stale: dict[str, StaleLockFile] = {}
    for path in changed:
        locks = (npm.stale_lock_files(files, path) if npm.is_manifest(path)
                 else nuget.stale_lock_files(files, path) if nuget.is_project_file(path) else [])
        stale.update((lock.path, lock) for lock in locks if lock.path not in changed and lock.path not in stale)
    return list(stale.values())


def _bump_python(original: str, path: str, package: str, version: Version | None, text: str) -> tuple[str, bool]:
    lines = original.splitlines(keepends=True)
    found = False
    for index, line in enumerate(lines):
        rewritten, matched = _bump_line(line, path, package, version, text)
        found = found or matched
        lines[index] = rewritten
    return "".join(lines), found


def _is_requirements_file(path: str) -> bool:
    posix = PurePosixPath(path)
    return posix.suffix == ".txt" and (posix.name.startswith("requirements") or "requirements" in posix.parts)


def _is_metadata(path: str) -> bool:
    """Library metadata, whose ranges are promises to users, not pins of one environment."""
    return PurePosixPath(path).name in ("pyproject.toml", "setup.cfg")


def _bump_line(line: str, path: str, package: str, version: Version | None, text: str) -> tuple[str, bool]:
    """(line with the pin raised, whether the line pins `package`)."""
    if path.endswith(".toml"):
        found = False
        for quoted in _QUOTED.finditer(line):
            body = quoted["double"] or quoted["single"]
            new_body, matched = _bump_spec(body, package, version, text, path)
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
    new_spec, matched = _bump_spec(spec, package, version, text, path)
    return line.replace(spec, new_spec, 1), matched


def _bump_spec(spec: str, package: str, version: Version | None, text: str, path: str) -> tuple[str, bool]:
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        return spec, False
    if canonicalize_name(requirement.name) != canonicalize_name(package):
        return spec, False
    pins = [s for s in requirement.specifier if s.operator in _PINNING_OPERATORS and "*" not in s.version]
    if not pins:
        return spec, False
    if version is None:
        raise AgentError(f"{path}: {spec!r} is a Python pin and {text!r} is not a PEP 440 version")
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
