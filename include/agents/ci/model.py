"""The one description of a repository's build that every forge's CI template renders."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Toolchain = Literal["python", "node", "dotnet"]

_LABELS: dict[Toolchain, str] = {"python": "Python", "node": "Node.js", "dotnet": ".NET SDK"}


class BuildPlan(BaseModel):
    """How CI builds and tests one repository: the toolchain and its version, the install commands in
    order, one test command, and the files they were read from."""

    model_config = ConfigDict(frozen=True)

    toolchain: Toolchain
    version: str = Field(description="Python '3.11', Node '20' (major), .NET SDK '8.0.x'.")
    install: list[str] = Field(description="Shell commands, in order, run before the tests.")
    test_command: str = Field(description="The one shell command whose exit code is the build's verdict.")
    evidence: list[str] = Field(default_factory=list, description="Repository files the plan was read from.")
    build_backend: str | None = Field(default=None, description="pyproject's build backend, when it declares one.")

    @property
    def python_version(self) -> str | None:
        return self.version if self.toolchain == "python" else None

    def summary(self) -> str:
        """One line for the PR status and the step's log."""
        source = f" (from {', '.join(self.evidence)})" if self.evidence else " (nothing declared: the default)"
        return f"{_LABELS[self.toolchain]} {self.version}, `{self.test_command}`{source}"
