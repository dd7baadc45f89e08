"""BuildPlan derivation, table-driven: each case is a small real repository layout on disk and the plan
CI must follow for it (toolchain, version, install commands, test command, the files it was read from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.agents.ci import BuildPlan, build_plan
from tests.include.agents.conftest import write_files

UPGRADE = "python -m pip install --upgrade pip"
PYTEST = "python -m pip install pytest"

HATCH_SRC = {
    "pyproject.toml": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
                      '[project]\nname = "tidy"\nversion = "1.0"\nrequires-python = ">=3.10"\n'
                      'dependencies = ["attrs>=23"]\n\n[project.optional-dependencies]\n'
                      'test = ["pytest>=8", "pytest-cov"]\ndocs = ["sphinx"]\n',
    "src/tidy/__init__.py": "",
    "tests/test_tidy.py": "def test_ok():\n    assert True\n",
}
NOXFILE = '''import nox


@nox.session(python=["3.10", "3.12"])
def tests(session):
    session.install("-e", ".[test]")
    session.run("pytest")


@nox.session
def lint(session):
    session.run("ruff", "check")
'''
NAMED_NOX = '@nox.session(name="unit", python="3.12")\n@nox.parametrize("x", [1])\ndef run_unit_tests(session, x):\n' \
            '    session.run("pytest")\n'
TEST_CSPROJ = ('<Project Sdk="Microsoft.NET.Sdk">\n  <PropertyGroup><TargetFramework>net8.0</TargetFramework>'
               '</PropertyGroup>\n  <ItemGroup><PackageReference Include="Microsoft.NET.Test.Sdk" Version="17.9.0" />'
               '</ItemGroup>\n</Project>\n')
APP_CSPROJ = ('<Project Sdk="Microsoft.NET.Sdk">\n  <PropertyGroup><TargetFramework>net8.0</TargetFramework>'
              '</PropertyGroup>\n</Project>\n')

CASES: dict[str, tuple[dict[str, str], dict[str, object]]] = {
    "pyproject with a test extra, src layout": (HATCH_SRC, dict(
        toolchain="python", version="3.10", install=[UPGRADE, 'python -m pip install -e ".[test]"'],
        test_command="python -m pytest -q", evidence=["pyproject.toml"], build_backend="hatchling.build")),
    "requirements files only, the docs one skipped": ({
        "requirements.txt": "requests==2.31.0\n", "requirements-dev.txt": "-r requirements.txt\npytest==8.3.0\n",
        "requirements-docs.txt": "sphinx\n", "app.py": "print('hi')\n"}, dict(
        toolchain="python", version="3.11",
        install=[UPGRADE, "python -m pip install -r requirements.txt", "python -m pip install -r requirements-dev.txt"],
        test_command="python -m pytest -q", evidence=["requirements.txt", "requirements-dev.txt"])),
    "flat pyproject without a build system is not installed": ({
        "pyproject.toml": '[project]\nname = "flat"\nrequires-python = ">=3.12"\n', "requirements.txt": "requests\n"},
        dict(toolchain="python", version="3.12", install=[UPGRADE, "python -m pip install -r requirements.txt", PYTEST],
             test_command="python -m pytest -q", evidence=["pyproject.toml", "requirements.txt"], build_backend=None)),
    "tox.ini": ({"tox.ini": "[tox]\nenvlist = py310,py311\n\n[testenv]\ndeps = pytest\ncommands = pytest\n",
                 "setup.py": "from setuptools import setup\nsetup()\n"}, dict(
        toolchain="python", version="3.11", install=[UPGRADE, "python -m pip install tox"],
        test_command="python -m tox -e py", evidence=["tox.ini"])),
    "tox configured in pyproject": ({"pyproject.toml": '[tool.tox]\nlegacy_tox_ini = """\n[tox]\n"""\n'}, dict(
        toolchain="python", install=[UPGRADE, "python -m pip install tox"], test_command="python -m tox -e py",
        evidence=["pyproject.toml"])),
    "noxfile with a tests session": ({"noxfile.py": NOXFILE}, dict(
        toolchain="python", version="3.11", install=[UPGRADE, "python -m pip install nox"],
        test_command="python -m nox --force-python 3.11 -s tests", evidence=["noxfile.py"])),
    "noxfile naming its session in the decorator": ({"noxfile.py": "import nox\n\n\n" + NAMED_NOX}, dict(
        test_command="python -m nox --force-python 3.11 -s unit")),
    "Makefile test target running pytest": ({
        "Makefile": ".PHONY: test\nlint:\n\truff check .\n\ntest:\n\tpython -m pytest -q tests\n",
        "requirements.txt": "requests\n"}, dict(
        install=[UPGRADE, "python -m pip install -r requirements.txt", PYTEST], test_command="make test",
        evidence=["requirements.txt", "Makefile"])),
    "Makefile test target running unittest": ({
        "Makefile": "TEST := x\ntest: build\n\tpython -m unittest discover\n", "setup.cfg": "[metadata]\nname = u\n"},
        dict(install=[UPGRADE, "python -m pip install -e ."], test_command="make test",
             evidence=["setup.cfg", "Makefile"], build_backend="setuptools.build_meta:__legacy__")),
    "setup.cfg extras in a src layout": ({
        "setup.cfg": "[metadata]\nname = legacy\n\n[options]\npackage_dir =\n    = src\n\n"
                     "[options.extras_require]\ntesting =\n    pytest>=7\n    pytest-mock\n",
        "setup.py": "from setuptools import setup\nsetup()\n", "src/legacy/__init__.py": ""}, dict(
        install=[UPGRADE, 'python -m pip install -e ".[testing]"'], evidence=["setup.py", "setup.cfg"])),
    "dependency groups (PEP 735)": ({
        "pyproject.toml": '[build-system]\nrequires = ["flit_core"]\nbuild-backend = "flit_core.buildapi"\n\n'
                          '[project]\nname = "grp"\nversion = "1"\n\n[dependency-groups]\n'
                          'test = ["pytest", {include-group = "lint"}]\nlint = ["ruff"]\n'}, dict(
        install=[UPGRADE, "python -m pip install -e .", "python -m pip install --group test"],
        evidence=["pyproject.toml"], build_backend="flit_core.buildapi")),
    "only a dev extra": ({
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
                          '[project]\nname = "d"\nversion = "1"\n[project.optional-dependencies]\n'
                          'dev = ["pytest", "ruff"]\n'}, dict(
        install=[UPGRADE, 'python -m pip install -e ".[dev]"'])),
    ".python-version wins over requires-python": ({
        ".python-version": "3.12.4\n", "pyproject.toml": '[project]\nname = "p"\nrequires-python = ">=3.9"\n'},
        dict(version="3.12")),
    "package.json with a lockfile": ({
        "package.json": '{"name": "web", "engines": {"node": ">=18"}, "scripts": {"test": "vitest run"}}',
        "package-lock.json": "{}", "scripts/build.py": "print(1)\n"}, dict(
        toolchain="node", version="18", install=["npm ci"], test_command="npm test",
        evidence=["package.json", "package-lock.json"])),
    "package.json without a lockfile, .nvmrc": ({
        "package.json": '{"scripts": {"test": "jest"}}', ".nvmrc": "v22.3.0\n"}, dict(
        toolchain="node", version="22", install=["npm install"], evidence=["package.json"])),
    "npm's placeholder test script is no test": ({
        "package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}'}, dict(
        toolchain="python", install=[UPGRADE, PYTEST], test_command="python -m pytest -q", evidence=[])),
    "csproj: the test project, not the app": ({
        "src/App/App.csproj": APP_CSPROJ, "tests/App.Tests/App.Tests.csproj": TEST_CSPROJ}, dict(
        toolchain="dotnet", version="8.0.x", install=["dotnet restore tests/App.Tests/App.Tests.csproj"],
        test_command="dotnet test --no-restore tests/App.Tests/App.Tests.csproj",
        evidence=["tests/App.Tests/App.Tests.csproj"])),
    "a root solution and global.json": ({
        "Shop.sln": "Microsoft Visual Studio Solution File\n", "global.json": '{"sdk": {"version": "9.0.100"}}',
        "src/Shop/Shop.csproj": APP_CSPROJ}, dict(
        toolchain="dotnet", version="9.0.x", install=["dotnet restore Shop.sln"],
        test_command="dotnet test --no-restore Shop.sln", evidence=["Shop.sln"])),
    "Python wins over Node tooling": ({"package.json": '{"scripts": {"test": "jest"}}',
                                       "requirements.txt": "pytest\n"}, dict(
        toolchain="python", install=[UPGRADE, "python -m pip install -r requirements.txt"])),
    "nothing declared": ({"README.md": "# nothing\n"}, dict(
        toolchain="python", version="3.11", install=[UPGRADE, PYTEST], test_command="python -m pytest -q",
        evidence=[], build_backend=None)),
}


@pytest.mark.parametrize(("files", "expected"), list(CASES.values()), ids=list(CASES))
def test_build_plan_follows_the_repository(tmp_path: Path, files: dict[str, str], expected: dict[str, object]) -> None:
    plan = build_plan(write_files(tmp_path, files))
    assert plan.model_dump(include=set(expected)) == expected


def test_the_plan_names_its_python_version_and_sources(tmp_path: Path) -> None:
    plan = build_plan(write_files(tmp_path, HATCH_SRC))
    assert plan.python_version == "3.10"
    assert plan.summary() == "Python 3.10, `python -m pytest -q` (from pyproject.toml)"
    node = BuildPlan(toolchain="node", version="20", install=["npm ci"], test_command="npm test")
    assert node.python_version is None
    assert node.summary() == "Node.js 20, `npm test` (nothing declared: the default)"
