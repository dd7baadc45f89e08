"""Fixtures for the sandbox tests: a private TICKETPILOT_HOME per session (a real `.ticketpilot/` directory,
where venvs are cached), a small repository pinning one pure-Python package, and its sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.sandbox import Isolation, Sandbox
from include.sandbox.isolation import available

PIN = "six==1.16.0"
BUMPED = "six==1.17.0"
TEST_FILE = "import six\n\n\ndef test_six():\n    assert six.PY3\n"

needs_bwrap = pytest.mark.skipif(
    available() is not Isolation.BUBBLEWRAP,
    reason="bubblewrap (Debian package `bubblewrap`) is missing or cannot create its namespaces here; "
           "the fallback tests cover this machine",
)


@pytest.fixture(scope="session")
def platform_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `.ticketpilot/` as the platform keeps it: venv cache and a password file beside it."""
    home = tmp_path_factory.mktemp("platform") / ".ticketpilot"
    home.mkdir()
    (home / "admin-password").write_text("hunter2-platform-secret\n")
    return home


@pytest.fixture(autouse=True)
def ticketpilot_home(platform_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TICKETPILOT_HOME", str(platform_home))
    return platform_home


def make_repo(root: Path, requirements: str = PIN + "\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.txt").write_text(requirements)
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_six.py").write_text(TEST_FILE)
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def sandbox(repo: Path) -> Sandbox:
    return Sandbox.for_workdir(repo)
