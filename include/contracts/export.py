"""Export the contracts as JSON Schema so non-Python agents and pods can validate against them.

Run ``python -m include.contracts.export`` after changing a model; a test fails while the files lag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from include.contracts.agent import AgentResult, AgentTask
from include.contracts.directory import Directory
from include.contracts.gate import GateDecision
from include.contracts.risk import RiskClass
from include.contracts.ticket import Ticket

SCHEMA_DIR = Path(__file__).parent / "schemas"

SCHEMAS: dict[str, Any] = {
    "ticket": Ticket,
    "agent_task": AgentTask,
    "agent_result": AgentResult,
    "gate_decision": GateDecision,
    "risk_class": RiskClass,
    "team_directory": Directory,
}


def render() -> dict[str, str]:
    """File name → JSON text, deterministic."""
    return {
        f"{name}.schema.json": json.dumps(TypeAdapter(model).json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in SCHEMAS.items()
    }


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (SCHEMA_DIR / name).write_text(text)
        print(f"wrote {SCHEMA_DIR / name}")


if __name__ == "__main__":
    main()
