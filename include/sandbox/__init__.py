"""The sandbox every agent runs repository or model-written code in (tests, linters, builds, the fix loop):
the repository's own venv, an allowlisted environment, no network, a filesystem limited to the working copy,
the venv and read-only system paths, and rlimits; see DESIGN.md §2b.

    sandbox = Sandbox.for_workdir(workdir)        # repo venv built or taken from $TICKETPILOT_HOME/venvs
    result = sandbox.run([sandbox.python, "-m", "pytest", "-q"], timeout_s=300)
    result.exit_code, result.output_tail, result.isolation   # "bubblewrap" | "unshare" | "none"

`Sandbox.for_tools(workdir)` runs the platform's own scanners over a working copy the same way.

In Kubernetes the same contract holds as the step's pod (no service-account token, a deny-all NetworkPolicy,
a read-only root filesystem): bubblewrap inside the pod then adds the filesystem view on top."""

from __future__ import annotations

from include.sandbox.isolation import Isolation, Limits
from include.sandbox.record import record_isolation
from include.sandbox.sandbox import DEFAULT_TIMEOUT_S, TIMEOUT_EXIT_CODE, Sandbox, ToolRun
from include.sandbox.venv import VenvBuildError, repo_venv

__all__ = ["DEFAULT_TIMEOUT_S", "TIMEOUT_EXIT_CODE", "Isolation", "Limits", "Sandbox", "ToolRun", "VenvBuildError",
           "record_isolation", "repo_venv"]
