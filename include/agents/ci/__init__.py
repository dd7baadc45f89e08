"""A repository's build, read from its own files into one `BuildPlan` that every forge's CI template renders:
CI should install and test the project the way its maintainers do, not the way Ticketpilot guesses.

Which toolchain: Python when the repository declares a Python build (pyproject, setup.py/.cfg, requirements,
tox, nox), else Node when `package.json` has a real `test` script, else .NET when a solution or project
file exists, else Python's default (install pytest, run it): a repository with nothing declared gets the CI
it most likely wants, and the PR shows it."""

from __future__ import annotations

from pathlib import Path

from include.agents.ci import dotnet, node, python
from include.agents.ci.model import BuildPlan, Toolchain

__all__ = ["BuildPlan", "Toolchain", "build_plan"]


def build_plan(workdir: Path) -> BuildPlan:
    """The plan for the working copy, by the precedence above."""
    if python.declares_python(workdir):
        return python.plan(workdir)
    return node.plan(workdir) or dotnet.plan(workdir) or python.plan(workdir)
