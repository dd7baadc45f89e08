"""Python: install and test the repository the way it says it is installed and tested.

tox or nox, when configured, own the environments: CI installs the runner and runs it with CI's interpreter.
Otherwise CI installs the requirements files, then the project itself when it says how it is built (a build
backend, `setup.py` or `setup.cfg`) with its test extras and dependency groups, and runs the Makefile's `test`
target, else pytest; pytest is installed when nothing installed brings it."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from include.agents.ci.model import BuildPlan

DEFAULT_TEST_COMMAND = "python -m pytest -q"
DEFAULT_PYTHON = "3.11"
SUPPORTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
PIP_UPGRADE = "python -m pip install --upgrade pip"
DECLARATIONS = ("pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "tox.toml", "noxfile.py")
TEST_EXTRAS = ("test", "tests", "testing")
"""Extras and dependency groups for testing; `dev` is taken only where none of these exists."""
NOX_TEST_SESSIONS = ("tests", "test", "pytest", "unit")
MAKEFILES = ("GNUmakefile", "makefile", "Makefile")

_MAKE_TEST = re.compile(r"^test\s*:(?![=:])[^\n]*\n((?:\t[^\n]*\n?)*)", re.MULTILINE)
_NOX_SESSION = re.compile(r"@nox\.session\b([^\n]*)\n(?:\s*@[^\n]*\n)*\s*def (\w+)\(")


def declares_python(workdir: Path) -> bool:
    """A Python build file or a requirements file at the root: a bare `*.py` script does not make the
    repository a Python project."""
    return any((workdir / name).is_file() for name in DECLARATIONS) or bool(requirements_files(workdir))


def plan(workdir: Path) -> BuildPlan:
    """tox, else nox, else the declared installs and `make test` or pytest (see the module docstring)."""
    version = python_version(workdir)
    pyproject = _toml(workdir / "pyproject.toml")
    evidence = ["pyproject.toml"] if "requires-python" in pyproject.get("project", {}) else []
    if tox := _tox_config(workdir, pyproject):
        return BuildPlan(toolchain="python", version=version, install=[PIP_UPGRADE, "python -m pip install tox"],
                         test_command="python -m tox -e py", evidence=_unique([*evidence, tox]))
    if (workdir / "noxfile.py").is_file():
        session = _nox_test_session((workdir / "noxfile.py").read_text(encoding="utf-8"))
        command = f"python -m nox --force-python {version}" + (f" -s {session}" if session else "")
        return BuildPlan(toolchain="python", version=version, install=[PIP_UPGRADE, "python -m pip install nox"],
                         test_command=command, evidence=_unique([*evidence, "noxfile.py"]))
    install = [PIP_UPGRADE]
    declared: list[str] = []
    for name in requirements_files(workdir):
        install.append(f"python -m pip install -r {name}")
        declared += _requirement_lines((workdir / name).read_text(encoding="utf-8", errors="replace"))
        evidence.append(name)
    backend = _build_backend(workdir, pyproject)
    if backend is not None:
        extras, extra_requirements, source = _test_extras(workdir, pyproject)
        install.append("python -m pip install -e " + (f'".[{",".join(extras)}]"' if extras else "."))
        declared += [*pyproject.get("project", {}).get("dependencies", []), *extra_requirements]
        evidence += [_project_file(workdir, pyproject), *([source] if source else [])]
    groups, group_requirements = _test_groups(pyproject)
    install += [f"python -m pip install --group {group}" for group in groups]
    declared += group_requirements
    evidence += ["pyproject.toml"] if groups else []
    makefile, recipe = _make_test(workdir)
    test_command = "make test" if makefile else DEFAULT_TEST_COMMAND
    if (makefile is None or "pytest" in recipe) and "pytest" not in _names(declared):
        install.append("python -m pip install pytest")
    return BuildPlan(toolchain="python", version=version, install=install, test_command=test_command,
                     evidence=_unique([*evidence, *([makefile] if makefile else [])]),
                     build_backend=backend)


def python_version(workdir: Path) -> str:
    """`.python-version`, else the lowest supported Python that `requires-python` allows, else the default:
    CI tests the oldest version the project promises to support."""
    pinned = workdir / ".python-version"
    if pinned.is_file():
        parts = pinned.read_text(encoding="utf-8").strip().split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return f"{parts[0]}.{parts[1]}"
    requires = _toml(workdir / "pyproject.toml").get("project", {}).get("requires-python")
    try:
        allowed = SpecifierSet(requires) if isinstance(requires, str) else None
    except InvalidSpecifier:
        allowed = None
    if allowed is not None:
        return next((v for v in SUPPORTED_PYTHONS if allowed.contains(f"{v}.0")), DEFAULT_PYTHON)
    return DEFAULT_PYTHON


def requirements_files(workdir: Path) -> list[str]:
    """`requirements*.txt`, `*-requirements.txt` and `requirements/*.txt`, `requirements.txt` first; files for
    the docs build are not the tests' business."""
    found = {path.relative_to(workdir).as_posix() for pattern in ("*requirements*.txt", "requirements/*.txt")
             for path in workdir.glob(pattern) if path.is_file() and "doc" not in path.name.lower()}
    return sorted(found, key=lambda name: (name != "requirements.txt", name))


def _toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _setup_cfg(workdir: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    path = workdir / "setup.cfg"
    if path.is_file():
        try:
            parser.read_string(path.read_text(encoding="utf-8"))
        except configparser.Error:
            return configparser.ConfigParser(interpolation=None)
    return parser


def _tox_config(workdir: Path, pyproject: dict[str, Any]) -> str | None:
    """The file that configures tox, if one does."""
    for name in ("tox.ini", "tox.toml"):
        if (workdir / name).is_file():
            return name
    if "tox" in pyproject.get("tool", {}):
        return "pyproject.toml"
    return "setup.cfg" if _setup_cfg(workdir).has_section("tox:tox") else None


def _nox_test_session(noxfile: str) -> str | None:
    """The noxfile's test session (by name, or by `name=` in its decorator); None runs nox's defaults."""
    names = set()
    for decorator, function in _NOX_SESSION.findall(noxfile):
        explicit = re.search(r"name\s*=\s*[\"']([\w-]+)[\"']", decorator)
        names.add(explicit.group(1) if explicit else function)
    return next((name for name in NOX_TEST_SESSIONS if name in names), None)


def _build_backend(workdir: Path, pyproject: dict[str, Any]) -> str | None:
    """How pip builds the project, when the repository says so; None when it is not installable as a
    project (a bare `[project]` table in a flat layout would make setuptools guess, and fail)."""
    backend = pyproject.get("build-system", {}).get("build-backend")
    if isinstance(backend, str):
        return backend
    cfg = _setup_cfg(workdir)
    if (workdir / "setup.py").is_file() or cfg.has_section("metadata") or cfg.has_section("options"):
        return "setuptools.build_meta:__legacy__"
    return None


def _project_file(workdir: Path, pyproject: dict[str, Any]) -> str:
    """The file that says how the project is built."""
    if "build-backend" in pyproject.get("build-system", {}):
        return "pyproject.toml"
    return "setup.py" if (workdir / "setup.py").is_file() else "setup.cfg"


def _test_extras(workdir: Path, pyproject: dict[str, Any]) -> tuple[list[str], list[str], str | None]:
    """The project's test extras, their requirements, and the file declaring them (pyproject or setup.cfg)."""
    optional = pyproject.get("project", {}).get("optional-dependencies", {})
    source = "pyproject.toml"
    if not optional:
        cfg = _setup_cfg(workdir)
        if cfg.has_section("options.extras_require"):
            optional = {name: _requirement_lines(value) for name, value in cfg.items("options.extras_require")}
            source = "setup.cfg"
    chosen = _testing_keys(optional)
    return chosen, [line for name in chosen for line in optional[name]], source if chosen else None


def _test_groups(pyproject: dict[str, Any]) -> tuple[list[str], list[str]]:
    """PEP 735 dependency groups for testing (pip installs them with `--group`) and their requirements."""
    groups = pyproject.get("dependency-groups", {})
    chosen = _testing_keys(groups)
    return chosen, [entry for name in chosen for entry in groups[name] if isinstance(entry, str)]


def _testing_keys(table: dict[str, Any]) -> list[str]:
    keys = [name for name in table if _normalise(name) in TEST_EXTRAS]
    return keys or [name for name in table if _normalise(name) == "dev"]


def _make_test(workdir: Path) -> tuple[str | None, str]:
    """The Makefile with a `test` target, and that target's recipe."""
    for name in MAKEFILES:
        path = workdir / name
        if path.is_file() and (match := _MAKE_TEST.search(path.read_text(encoding="utf-8", errors="replace"))):
            return name, match.group(1)
    return None, ""


def _requirement_lines(text: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _names(requirements: list[str]) -> set[str]:
    names = set()
    for line in requirements:
        try:
            names.add(_normalise(Requirement(line).name))
        except InvalidRequirement:
            continue
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
