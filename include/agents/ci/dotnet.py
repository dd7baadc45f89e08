""".NET: `dotnet restore` and `dotnet test` on the root solution, else on each test project (one that
references the test SDK), else on each project."""

from __future__ import annotations

import json
import re
from pathlib import Path

from include.agents.ci.model import BuildPlan
from include.agents.workspace import SKIP_DIRS

DEFAULT_DOTNET = "8.0.x"
TEST_SDK = "Microsoft.NET.Test.Sdk"
"""The package every .NET test project (xUnit, NUnit, MSTest) references."""


def plan(workdir: Path) -> BuildPlan | None:
    """None without a `*.sln` at the root or a `*.csproj` anywhere."""
    solutions = sorted(path.name for path in workdir.glob("*.sln"))
    projects = sorted(path.relative_to(workdir).as_posix() for path in workdir.rglob("*.csproj")
                      if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(workdir).parts))
    if not solutions and not projects:
        return None
    tests = [path for path in projects if TEST_SDK in (workdir / path).read_text(encoding="utf-8", errors="replace")]
    targets = solutions[:1] or tests or projects
    return BuildPlan(toolchain="dotnet", version=_version(workdir, projects),
                     install=[f"dotnet restore {target}" for target in targets],
                     test_command=" && ".join(f"dotnet test --no-restore {target}" for target in targets),
                     evidence=targets)


def _version(workdir: Path, projects: list[str]) -> str:
    """`global.json`'s SDK, else the first project's `netX.Y` target framework, else the current LTS."""
    path = workdir / "global.json"
    if path.is_file():
        try:
            sdk = json.loads(path.read_text(encoding="utf-8")).get("sdk", {}).get("version", "")
        except (json.JSONDecodeError, AttributeError):
            sdk = ""
        if match := re.match(r"(\d+)\.(\d+)", str(sdk)):
            return f"{match.group(1)}.{match.group(2)}.x"
    for project in projects:
        text = (workdir / project).read_text(encoding="utf-8", errors="replace")
        if match := re.search(r"<TargetFrameworks?>\s*net(\d+)\.(\d+)", text):
            return f"{match.group(1)}.{match.group(2)}.x"
    return DEFAULT_DOTNET
