"""The repository's own virtual environment: built from what it declares (include/sandbox/requirements.py) plus
pytest when it declares none, cached under `$TICKETPILOT_HOME/venvs/<key>`.

The key hashes the declared requirements and constraints, the Python version and the installer, so a dependency
bump builds a new venv and the bumped version is what the tests run against, while an edit that declares nothing
new reuses the cached one. The build needs the package index, so it runs on the worker, outside the sandbox, with
an allowlisted environment; it installs dependencies only, never the repository (whose setup.py would then run
here). Two steps wanting the same venv build it once: the build holds a file lock, and a venv counts as built
only once its marker file is renamed into place, last. Venvs are not relocatable (scripts carry absolute
shebangs), so the venv is built at its final path and the marker, not the directory, is the atomic rename."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from include.sandbox.requirements import Declared, declared
from include.settings import Settings

log = logging.getLogger(__name__)

MARKER = "ticketpilot-venv.json"
"""Written last: a venv directory without it is a build that did not finish."""
REQUIREMENTS_FILE = "ticketpilot-requirements.txt"
CONSTRAINTS_FILE = "ticketpilot-constraints.txt"
BUILD_TIMEOUT_S = 900
_KEY_VERSION = 1  # bump when the build itself changes, so old venvs are not reused
_BUILD_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
              "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
              "XDG_CONFIG_DIRS", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
_BUILD_ENV_PREFIXES = ("PIP_", "UV_")  # the platform's index and cache settings


class VenvBuildError(RuntimeError):
    """The installer could not build the repository's environment; the message carries its own words."""


def venv_root() -> Path:
    """Where venvs are cached: read on every call, so a changed TICKETPILOT_HOME takes effect at once."""
    return Settings.from_env().home / "venvs"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def repo_venv(workdir: Path, root: Path | None = None) -> Path:
    """The venv for the repository at `workdir`: the cached one for its declarations, else a new build."""
    wanted = declared(workdir)
    if "pytest" not in wanted.names():
        wanted.requirements = sorted([*wanted.requirements, "pytest"])
    for line in wanted.skipped:
        log.info("venv for %s: skipped %s", workdir.name, line)
    root = root or venv_root()
    venv = root / venv_key(wanted)
    if (venv / MARKER).is_file():
        try:
            os.utime(venv / MARKER)  # its last use: retention removes environments unused for days
            return venv
        except FileNotFoundError:  # expired by retention a moment ago: build it again
            pass
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{venv.name}.lock"):
        if not (venv / MARKER).is_file():  # another step may have built it while this one waited
            _build(venv, wanted)
    return venv


def venv_key(wanted: Declared) -> str:
    body = json.dumps({"version": _KEY_VERSION, "requirements": sorted(wanted.requirements),
                       "constraints": wanted.constraints, "python": _python_identity(),
                       "installer": _installer()[0]}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:24]


def _python_identity() -> str:
    base = getattr(sys, "_base_executable", sys.executable)
    return f"{platform.python_implementation()}-{platform.python_version()}-{base}"


def _installer() -> tuple[str, list[str]]:
    """`uv` when it is on PATH or importable (much faster), else pip of this interpreter."""
    found = shutil.which("uv")
    if found:
        return "uv", [found]
    if importlib.util.find_spec("uv") is not None:
        return "uv", [sys.executable, "-m", "uv"]
    return "pip", [sys.executable, "-m", "pip"]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(venv: Path, wanted: Declared) -> None:
    if venv.exists():
        shutil.rmtree(venv)  # a build that died before its marker
    started = time.monotonic()
    kind, installer = _installer()
    base = getattr(sys, "_base_executable", sys.executable)
    try:
        if kind == "uv":
            _call([*installer, "venv", "--quiet", "--python", base, str(venv)], venv.parent)
        else:
            _call([sys.executable, "-m", "venv", "--without-pip", str(venv)], venv.parent)
        (venv / REQUIREMENTS_FILE).write_text("\n".join(wanted.requirements) + "\n", encoding="utf-8")
        files = ["-r", str(venv / REQUIREMENTS_FILE)]
        if wanted.constraints:
            (venv / CONSTRAINTS_FILE).write_text("\n".join(wanted.constraints) + "\n", encoding="utf-8")
            files += ["-c", str(venv / CONSTRAINTS_FILE)]
        python = str(venv_python(venv))
        if kind == "uv":
            _call([*installer, "pip", "install", "--quiet", "--python", python, *files], venv.parent)
        else:  # pip installs into another interpreter's environment with its general --python option
            _call([*installer, "--python", python, "install", "--quiet", "--disable-pip-version-check",
                   "--no-input", *files], venv.parent)
    except VenvBuildError:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    marker = {"requirements": wanted.requirements, "constraints": wanted.constraints, "sources": wanted.sources,
              "skipped": wanted.skipped, "installer": kind, "python": _python_identity(),
              "build_s": round(time.monotonic() - started, 1)}
    partial = venv / f"{MARKER}.partial"
    partial.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    partial.replace(venv / MARKER)
    log.info("built venv %s with %s in %.1fs: %s", venv.name, kind, marker["build_s"], ", ".join(wanted.requirements))


def _call(argv: list[str], cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k in _BUILD_ENV or k.startswith(_BUILD_ENV_PREFIXES)}
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=BUILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise VenvBuildError(f"{' '.join(argv[:4])} took over {BUILD_TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        said = (proc.stdout + proc.stderr).strip()[-1500:]
        raise VenvBuildError(f"building the repository's venv failed (exit {proc.returncode}): {said}")
