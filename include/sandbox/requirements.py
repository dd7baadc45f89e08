"""What a repository declares it needs to run its tests, read from its files and never by running any of them:
`pyproject.toml` ([project] dependencies, the test/dev extras and dependency groups), `setup.cfg`
(install_requires, tests_require, the test/dev extras) and `requirements*.txt` with their `-r`/`-c` includes.

Only named distributions survive. Editable and local-path lines (`-e .`, `./lib`, `file:` URLs) would build
repository code on the worker, outside the sandbox; index options would let a repository pick where the
platform downloads from. Both are dropped and reported. The project itself is never installed: the sandbox
puts the working copy on PYTHONPATH instead."""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

TEST_EXTRAS = ("test", "tests", "testing", "dev")
"""Optional-dependency extras and dependency groups that hold what the test suite needs."""

REQUIREMENTS_GLOBS = ("requirements*.txt", "*-requirements.txt", "*_requirements.txt", "requirements/*.txt")
_SKIPPED_STEMS = ("doc",)  # documentation builds pull in Sphinx and friends, which no test needs
_MAX_INCLUDE_DEPTH = 8
_INCLUDE = re.compile(r"^(?P<option>-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s-]))(?P<path>\S+)$")


@dataclass
class Declared:
    """The repository's requirements (PEP 508 strings), the constraints its requirement files name, the files
    they came from and every line that was left out with the reason."""

    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def names(self) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in self.requirements}


def declared(workdir: Path) -> Declared:
    """Everything the repository at `workdir` declares, deduplicated and sorted so equal declarations hash
    equally whatever the order of their lines."""
    found = Declared()
    project = _pyproject(workdir, found)
    _setup_cfg(workdir, found, project)
    for path in _requirement_files(workdir):
        _requirements_txt(workdir, path, found, project, depth=0, constraint=False)
    found.requirements = sorted(set(found.requirements))
    found.constraints = sorted(set(found.constraints))
    found.sources = sorted(set(found.sources))
    return found


def _pyproject(workdir: Path, found: Declared) -> str | None:
    path = workdir / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        found.skipped.append(f"pyproject.toml: unreadable ({exc})")
        return None
    found.sources.append("pyproject.toml")
    project = data.get("project", {})
    name = canonicalize_name(str(project["name"])) if isinstance(project.get("name"), str) else None
    if "dependencies" in project.get("dynamic", []):
        found.skipped.append("pyproject.toml: dependencies are dynamic (setup.py would have to run to know them)")
    extras = project.get("optional-dependencies", {})
    pending = [*project.get("dependencies", [])]
    pending += [item for extra in TEST_EXTRAS for item in extras.get(extra, [])]
    seen_extras = set(TEST_EXTRAS)
    while pending:
        line = pending.pop()
        requirement = _parse(str(line), "pyproject.toml", found, name)
        if requirement is None and name is not None and _is_self(str(line), name):
            for extra in sorted(Requirement(str(line)).extras - seen_extras):  # `pkg[test]` in the dev extra
                seen_extras.add(extra)
                pending += extras.get(extra, [])
    groups = data.get("dependency-groups", {})
    for group in TEST_EXTRAS:
        for item in _group(groups, group, set()):
            _parse(item, "pyproject.toml", found, name)
    return name


def _group(groups: dict[str, list[object]], name: str, seen: set[str]) -> list[str]:
    """A PEP 735 dependency group with its `include-group` entries expanded."""
    if name in seen:
        return []
    seen.add(name)
    items: list[str] = []
    for item in groups.get(name, []):
        if isinstance(item, str):
            items.append(item)
        elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
            items += _group(groups, item["include-group"], seen)
    return items


def _setup_cfg(workdir: Path, found: Declared, project: str | None) -> None:
    path = workdir / "setup.cfg"
    if not path.is_file():
        return
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (configparser.Error, UnicodeDecodeError) as exc:
        found.skipped.append(f"setup.cfg: unreadable ({exc})")
        return
    found.sources.append("setup.cfg")
    if project is None and parser.has_option("metadata", "name"):
        project = canonicalize_name(parser.get("metadata", "name"))
    values = [parser.get("options", key, fallback="") for key in ("install_requires", "tests_require")]
    values += [parser.get("options.extras_require", extra, fallback="") for extra in TEST_EXTRAS]
    for value in values:
        for line in value.splitlines():
            if line.strip():
                _parse(line.strip(), "setup.cfg", found, project)


def _requirement_files(workdir: Path) -> list[Path]:
    files = {path for pattern in REQUIREMENTS_GLOBS for path in workdir.glob(pattern) if path.is_file()}
    return sorted(path for path in files if not any(stem in path.stem.lower() for stem in _SKIPPED_STEMS))


def _requirements_txt(workdir: Path, path: Path, found: Declared, project: str | None, *, depth: int,
                      constraint: bool) -> None:
    relative = _inside(workdir, path)
    if relative is None or depth > _MAX_INCLUDE_DEPTH or not path.is_file():
        found.skipped.append(f"{path.name}: not a file inside the repository, or nested too deep")
        return
    found.sources.append(relative)
    for line in _logical_lines(path.read_text(encoding="utf-8", errors="replace")):
        include = _INCLUDE.match(line)
        if include is not None:
            _requirements_txt(workdir, path.parent / include["path"], found, project, depth=depth + 1,
                              constraint=constraint or include["option"] in ("-c", "--constraint"))
        elif line.startswith("-"):
            option = line.split()[0]
            found.skipped.append(f"{relative}: option {option!r} (indexes and editable installs are the platform's)")
        else:
            requirement = line.split(" --hash", 1)[0].strip()
            if constraint:
                if _valid(requirement, relative, found):
                    found.constraints.append(requirement)
            else:
                _parse(requirement, relative, found, project)


def _logical_lines(text: str) -> list[str]:
    """Lines without comments, with backslash continuations joined, as pip reads them."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            lines.append(line)
    return lines


def _parse(line: str, source: str, found: Declared, project: str | None) -> Requirement | None:
    """Record `line` when it names a distribution other than the project itself; None otherwise."""
    requirement = _valid(line, source, found)
    if requirement is None:
        return None
    if project is not None and canonicalize_name(requirement.name) == project:
        return None  # the project is the working copy on PYTHONPATH, never a download that would shadow it
    found.requirements.append(str(requirement))
    return requirement


def _valid(line: str, source: str, found: Declared) -> Requirement | None:
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        found.skipped.append(f"{source}: {line!r} is not a named requirement (local paths are never installed)")
        return None
    if requirement.url and requirement.url.startswith("file:"):
        found.skipped.append(f"{source}: {line!r} points at a local path")
        return None
    return requirement


def _is_self(line: str, project: str) -> bool:
    try:
        return canonicalize_name(Requirement(line).name) == project
    except InvalidRequirement:
        return False


def _inside(workdir: Path, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return None
