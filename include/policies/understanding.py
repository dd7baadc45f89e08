"""How the PO step combines its evidence into the change kind and risk class the ticket is worked as.

Three witnesses, each allowed one thing:
- the rule tables (include.policies.kinds, .risk) read the ticket's words and plan a kind and a floor;
- the repository confirms or refutes the plan: a playbook runs only when its precondition holds there
  (include/agents/playbooks/preconditions.py);
- a language model, where one is configured, reads the ticket too; its risk hint may raise the class, never
  lower it, and its kind is recorded for the reviewer but never picks a deterministic playbook the rules and
  the repository did not (a model's wrong guess must not reach an auto-merging path).

A playbook ticket whose precondition fails is unsure: with a model it becomes `feature` work at R2 or above
(the model writes the change, a person looks before merge); without one it stops at PO with the reason. A
ticket the rules already call `feature` goes on to Dev, which names the model to configure if there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.kinds import FEATURE_RISK

Outcome = Literal["playbook", "model", "refused"]


@dataclass(frozen=True)
class Decision:
    """The effective kind and class, what happens next, and why (one sentence for logs and the work item)."""

    change_kind: ChangeKind
    risk_class: RiskClass
    outcome: Outcome
    reason: str


def decide(planned_kind: ChangeKind, planned_risk: RiskClass, *, precondition_ok: bool, precondition: str,
           has_model: bool, model_kind: ChangeKind | None = None, model_risk: RiskClass | None = None) -> Decision:
    """The ticket's effective kind and class. `precondition_ok`/`precondition` are the repository's answer for
    `planned_kind` (ignored for `feature`, which has no playbook)."""
    risk = planned_risk if model_risk is None else planned_risk.at_least(model_risk)
    if planned_kind is ChangeKind.FEATURE:
        return Decision(ChangeKind.FEATURE, risk.at_least(FEATURE_RISK), "model",
                        "no deterministic playbook fits the ticket: the Dev step asks a model"
                        + ("" if has_model else ", and says what to configure while none is"))
    if precondition_ok:
        reason = precondition
        if model_kind is not None and model_kind is not planned_kind:
            reason += f" (the model read it as {model_kind.value}; the rules and the repository decide)"
        return Decision(planned_kind, risk, "playbook", reason)
    if has_model:
        return Decision(ChangeKind.FEATURE, risk.at_least(FEATURE_RISK), "model",
                        f"the {planned_kind.value} playbook does not apply: {precondition}; the model makes the "
                        "change and a person reviews it")
    return Decision(planned_kind, risk, "refused", f"the {planned_kind.value} playbook does not apply: {precondition}")
