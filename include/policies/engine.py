"""The policy engine: the Rego modules under include/policies/rego, evaluated in-process with regopy.

Each decision is a query compiled once into a bundle (`Interpreter.build`) and evaluated per call with its input
(about a millisecond; bench/policy_eval.py measures it). The interpreter is not thread-safe, so calls are
serialised per engine; the API server's threads wait microseconds for each other, not for I/O.

`version` is a digest of the module sources: recorded with every decision, it says which rules decided even
after they change.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from regopy import Interpreter

REGO_DIR = Path(__file__).parent / "rego"
DECISIONS = {"door": "data.ticketpilot.risk.door", "diff": "data.ticketpilot.risk.diff",
             "tool": "data.ticketpilot.tools.decision", "push": "data.ticketpilot.push.decision"}


class PolicyError(RuntimeError):
    """A policy that does not compile, or a decision that comes back undefined: never a silent default."""


class PolicyEngine:
    def __init__(self, modules: dict[str, str], decisions: dict[str, str] | None = None, *,
                 bundle_sha256: str | None = None) -> None:
        self.bundle_sha256 = bundle_sha256
        self.version = "sha256:" + hashlib.sha256(
            "\0".join(f"{name}\0{source}" for name, source in sorted(modules.items())).encode()).hexdigest()[:16]
        self._lock = threading.Lock()
        self._rego = Interpreter()
        try:
            for name, source in sorted(modules.items()):
                self._rego.add_module(name, source)
            self._bundles = {name: self._rego.build(query) for name, query in (decisions or DECISIONS).items()}
            self._data = json.loads(str(self._rego.query("data.ticketpilot.risk")))["expressions"][0]
        except Exception as exc:  # regopy raises RegoError with the compiler's report
            raise PolicyError(f"the policies do not compile: {exc}") from None

    def decide(self, decision: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._rego.set_input_term(json.dumps(payload))
            output = self._rego.query_bundle(self._bundles[decision])
        found = json.loads(str(output)) if output.ok() else {}
        expressions = found.get("expressions") or []
        if not expressions or not isinstance(expressions[0], dict):
            raise PolicyError(f"policy decision {decision!r} is undefined for this input: {output}")
        return expressions[0]

    def data(self, name: str) -> Any:
        """A value of the platform's rule tables (e.g. `large_diff_lines`)."""
        return self._data[name]

    def evaluate(self, ref: str) -> Any:
        """Any document, without input (e.g. a tenant bundle's constant rules, to validate them); None when
        undefined."""
        with self._lock:
            self._rego.set_input_term("{}")
            output = self._rego.query(ref)
        text = str(output) if output.ok() else ""
        if not text.startswith("{"):  # undefined: rego-cpp prints `undefined`, not JSON
            return None
        expressions = json.loads(text).get("expressions")
        return expressions[0] if expressions else None


def platform_modules() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(REGO_DIR.glob("*.rego"))}


@cache
def platform_engine() -> PolicyEngine:
    return PolicyEngine(platform_modules())
