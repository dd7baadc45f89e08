"""How a command is confined: which isolation this machine offers, the argv that applies it, and the limits.

Bubblewrap gives the full contract: no network, a filesystem of read-only system paths, the read-only venv and
the read-write working copy, tmpfs /tmp and HOME, a private /proc and /dev. The kernel ignores RLIMIT_NPROC
for root, so a worker running as root (as CI does) drops the command to the unprivileged `nobody` uid inside
the sandbox (`setpriv`, bwrap keeping just CAP_SETUID/CAP_SETGID for it): measured here, a fork bomb then stops
at the process limit, while the same bomb under root's uid mapped in a user namespace forks on unbounded.
Where bubblewrap or user namespaces are missing, `unshare -n` still takes the network away; without that only
the allowlisted environment and the rlimits remain. Both fallbacks warn loudly and report their name."""

from __future__ import annotations

import functools
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

SANDBOX_UID = 65534
"""`nobody`: what root drops to, so the process limit applies."""
SANDBOX_HOME = "/home/sandbox"
TMPFS_BYTES = 512 * 1024 * 1024
SYSTEM_DIRS = ("/usr",)
MERGED_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Symlinks into /usr on merged-usr systems, real directories elsewhere."""
ETC_ENTRIES = ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
               "passwd", "group", "hosts", "ssl", "ca-certificates", "mime.types")
"""The part of /etc that dynamic linking, user lookup, time zones and TLS libraries read; nothing else."""
_PROBE_TIMEOUT_S = 20


class Isolation(StrEnum):
    BUBBLEWRAP = "bubblewrap"
    UNSHARE = "unshare"
    NONE = "none"


@dataclass(frozen=True)
class Limits:
    """Per-process rlimits of the sandboxed command; the wall timeout is the caller's."""

    memory_mb: int = 4096
    cpu_s: int = 900
    nproc: int = 512
    fsize_mb: int = 1024
    nofile: int = 4096

    def prlimit_args(self) -> list[str]:
        mb = 1024 * 1024
        return [f"--as={self.memory_mb * mb}", f"--cpu={self.cpu_s}", f"--nproc={self.nproc}",
                f"--fsize={self.fsize_mb * mb}", f"--nofile={self.nofile}"]

    def preexec(self) -> Callable[[], None]:
        """The same limits set in the child, for machines without util-linux's prlimit."""
        mb = 1024 * 1024
        pairs = [(resource.RLIMIT_AS, self.memory_mb * mb), (resource.RLIMIT_CPU, self.cpu_s),
                 (resource.RLIMIT_NPROC, self.nproc), (resource.RLIMIT_FSIZE, self.fsize_mb * mb),
                 (resource.RLIMIT_NOFILE, self.nofile)]

        def apply() -> None:
            for kind, value in pairs:
                resource.setrlimit(kind, (value, value))

        return apply


@dataclass(frozen=True)
class Mounts:
    """What the sandbox sees besides system paths: read-only trees (venv, base Python) and the working copy."""

    workdir: Path
    read_only: tuple[Path, ...]


def which(name: str) -> str | None:
    """A tool's path; the one place the sandbox looks tools up, so a test can take one away."""
    return shutil.which(name, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


def drops_root() -> bool:
    return os.geteuid() == 0


def bwrap_argv(mounts: Mounts) -> list[str]:
    """The bubblewrap prefix for a command run in `mounts.workdir`."""
    bwrap = which("bwrap") or "bwrap"
    argv = [bwrap, "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if drops_root():  # no user namespace: the uid must really change for RLIMIT_NPROC to count
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    else:
        argv += ["--unshare-all"]
    for path in SYSTEM_DIRS:
        argv += ["--ro-bind", path, path]
    for path in MERGED_DIRS:
        target = Path(path)
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), path]
        elif target.is_dir():
            argv += ["--ro-bind", path, path]
    argv += ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", str(Path(SANDBOX_HOME).parent)]
    for entry in ETC_ENTRIES:
        argv += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm",
             "--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
             "--perms", "0777", "--size", str(TMPFS_BYTES), "--tmpfs", SANDBOX_HOME]
    argv += _parents([*mounts.read_only, mounts.workdir])
    for path in mounts.read_only:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(mounts.workdir), str(mounts.workdir), "--chdir", str(mounts.workdir)]
    if drops_root():
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", *setpriv_argv()]
    else:
        argv += ["--"]
    return argv


def _parents(paths: list[Path]) -> list[str]:
    """Directories leading to the mounts, traversable by the sandbox's uid: bubblewrap would create them 0700
    (as root), which hides a venv under /root or a private temporary directory from `nobody`."""
    system = (*SYSTEM_DIRS, *MERGED_DIRS)
    made: list[str] = []
    for path in paths:
        for parent in reversed(path.parents):
            name = str(parent)
            if name in ("/", "/tmp", SANDBOX_HOME, *made) or any(name.startswith(f"{s}/") for s in system):
                continue
            made.append(name)
    return [arg for name in made for arg in ("--perms", "0755", "--dir", name)]


def setpriv_argv() -> list[str]:
    return [which("setpriv") or "setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--"]


def unshare_argv() -> list[str]:
    """No network; as non-root, a user namespace (`-r`) makes that possible without privileges."""
    unshare = which("unshare") or "unshare"
    return [unshare, "--net", "--"] if drops_root() else [unshare, "--net", "--map-root-user", "--"]


@functools.cache
def available() -> Isolation:
    """The strongest isolation that works on this machine, found by trying it once per process (bubblewrap with
    the base Python, `unshare` with `true`)."""
    if which("bwrap") and (not drops_root() or which("setpriv")):
        with tempfile.TemporaryDirectory(prefix="tp-sandbox-probe-") as tmp:
            prefix = Path(sys.base_prefix).resolve()
            argv = bwrap_argv(Mounts(workdir=Path(tmp), read_only=(prefix,)))
            if _works([*argv, str(Path(sys.executable).resolve()), "-c", "pass"], tmp):
                return Isolation.BUBBLEWRAP
    if which("unshare") and _works([*unshare_argv(), "true"], None):
        return Isolation.UNSHARE
    return Isolation.NONE


def _works(argv: list[str], cwd: str | None) -> bool:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=False,
                              env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("sandbox probe %s failed: %s", argv[0], exc)
        return False
    if proc.returncode != 0:
        log.warning("sandbox probe %s exited %d: %s", argv[0], proc.returncode, proc.stderr.strip()[-300:])
    return proc.returncode == 0


def warn_degraded(isolation: Isolation) -> None:
    """The loud warning of a sandbox below the contract; the result's `isolation` carries it to the audit log."""
    lost = {Isolation.UNSHARE: "no network, but the whole filesystem is visible and writable as the worker's user",
            Isolation.NONE: "the network, the whole filesystem and (as root) unbounded forking are open to it"}
    if isolation is not Isolation.BUBBLEWRAP:
        log.warning("!!! SANDBOX DEGRADED: bubblewrap is unavailable, repository code runs with isolation %r: %s; "
                    "only the allowlisted environment and rlimits confine it. Install bubblewrap (Debian "
                    "package `bubblewrap`) and allow user namespaces to restore it. !!!", isolation.value,
                    lost[isolation])
