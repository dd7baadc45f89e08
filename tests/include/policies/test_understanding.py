from __future__ import annotations

import pytest

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.understanding import decide

R0, R1, R2, R3 = RiskClass.R0, RiskClass.R1, RiskClass.R2, RiskClass.R3
BUMP, LINT, FEATURE = ChangeKind.DEPENDENCY_BUMP, ChangeKind.LINT_FIX, ChangeKind.FEATURE


@pytest.mark.parametrize(
    ("planned", "risk", "ok", "has_model", "model_kind", "hint", "expected"),
    [
        (BUMP, R1, True, False, None, None, (BUMP, R1, "playbook")),
        (BUMP, R1, True, True, FEATURE, None, (BUMP, R1, "playbook")),
        (BUMP, R1, True, True, BUMP, R3, (BUMP, R3, "playbook")),
        (LINT, R0, False, True, None, None, (FEATURE, R2, "model")),
        (LINT, R0, False, False, None, None, (LINT, R0, "refused")),
        (FEATURE, R2, True, False, LINT, R0, (FEATURE, R2, "model")),
        (FEATURE, R3, True, True, None, R1, (FEATURE, R3, "model")),
    ],
)
def test_decide(planned: ChangeKind, risk: RiskClass, ok: bool, has_model: bool, model_kind: ChangeKind | None,
                hint: RiskClass | None, expected: tuple[ChangeKind, RiskClass, str]) -> None:
    decision = decide(planned, risk, precondition_ok=ok, precondition="why", has_model=has_model,
                      model_kind=model_kind, model_risk=hint)
    assert (decision.change_kind, decision.risk_class, decision.outcome) == expected
