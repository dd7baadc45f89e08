"""Node: `npm ci` (with a lockfile, else `npm install`) and `npm test`, when `package.json` has a real test
script."""

from __future__ import annotations

import json
import re
from pathlib import Path

from include.agents.ci.model import BuildPlan

DEFAULT_NODE = "20"
NPM_PLACEHOLDER = "no test specified"
"""What `npm init` writes into the `test` script: a repository whose test script says this has no tests."""
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")


def plan(workdir: Path) -> BuildPlan | None:
    """None without `package.json` or without a test script other than npm's placeholder."""
    path = workdir / "package.json"
    if not path.is_file():
        return None
    try:
        package = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    scripts = package.get("scripts") if isinstance(package, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if not isinstance(test, str) or not test.strip() or NPM_PLACEHOLDER in test:
        return None
    lockfile = next((name for name in LOCKFILES if (workdir / name).is_file()), None)
    return BuildPlan(toolchain="node", version=_version(workdir, package),
                     install=["npm ci" if lockfile else "npm install"], test_command="npm test",
                     evidence=["package.json", *([lockfile] if lockfile else [])])


def _version(workdir: Path, package: dict[str, object]) -> str:
    """`.nvmrc` / `.node-version`, else the lowest major `engines.node` allows, else the current LTS: CI tests
    the oldest version the project promises to support."""
    for name in (".nvmrc", ".node-version"):
        path = workdir / name
        if path.is_file() and (match := re.match(r"v?(\d+)", path.read_text(encoding="utf-8").strip())):
            return match.group(1)
    engines = package.get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    match = re.search(r"\d+", wanted) if isinstance(wanted, str) else None
    return match.group(0) if match else DEFAULT_NODE
