"""Tie a local agent process to the task process that started it.

The local runner gives the agent its own process group (so a timeout kills its whole tree); this makes it
also die when its parent dies, as a pod's containers do when the pod goes. Called first thing by the agent.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None) -> None:
    """SIGKILL this process when its parent exits; exit now if the parent is already gone."""
    if expected_parent is None or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != expected_parent:  # the parent died before prctl took effect
        os._exit(1)
