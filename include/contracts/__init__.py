"""Typed contracts at every boundary: hook → ticket store → DAG → agent → gate."""

from __future__ import annotations

from include.contracts.agent import (
    AgentResult,
    AgentRole,
    AgentTask,
    DevResult,
    DocsResult,
    Finding,
    PipelineResult,
    PoResult,
    ReviewResult,
    TestResult,
    TestRun,
    parse_result,
)
from include.contracts.gate import GateDecision, GateOutcome
from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind, Ticket

__all__ = [
    "AgentResult",
    "AgentRole",
    "AgentTask",
    "ChangeKind",
    "DevResult",
    "DocsResult",
    "Finding",
    "GateDecision",
    "GateOutcome",
    "PipelineResult",
    "PoResult",
    "ReviewResult",
    "RiskClass",
    "TestResult",
    "TestRun",
    "Ticket",
    "parse_result",
]
