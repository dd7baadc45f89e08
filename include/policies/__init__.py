"""Policy as code: explicit rule tables that decide what a ticket is and how much scrutiny it needs."""

from __future__ import annotations

from include.policies.risk import Classification, classify, escalate_for_diff

__all__ = ["Classification", "classify", "escalate_for_diff"]
