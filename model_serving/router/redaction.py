"""Reversible PII and secret redaction for prompts that leave for a cloud provider.

Each distinct value becomes a numbered placeholder (`[EMAIL_1]`), the same value always the same placeholder
within one request, so the model can still refer to it; the answer is restored before the caller sees it.
Card numbers must pass the Luhn check and IBANs the mod-97 check, so order numbers and ids stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_Check = Callable[[str], bool]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def _iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    return 15 <= len(compact) <= 34 and int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _phone(candidate: str) -> bool:
    """8 to 15 digits (E.164), and not an ISO date."""
    return 8 <= sum(c.isdigit() for c in candidate) <= 15 and not _ISO_DATE.match(candidate)


def _always(_: str) -> bool:
    return True


# Order matters: secrets and IBANs before phone numbers, whose pattern would eat their digits.
_RULES: list[tuple[str, re.Pattern[str], _Check]] = [
    ("SECRET", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"), _always),
    ("SECRET", re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{16,}"), _always),
    ("SECRET", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), _always),
    ("SECRET", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}\b"), _always),
    ("SECRET", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), _always),
    ("SECRET", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), _always),
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), _always),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban),
    ("CARD", re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), _luhn),
    ("PHONE", re.compile(r"(?<![\w+.-])(?:\+\d{1,3}[ -]?)?(?:\(\d{1,4}\)[ -]?)?\d{2,4}(?:[ -]?\d{2,4}){2,4}\b"),
     _phone),
]
_PLACEHOLDER = re.compile(r"\[(?:SECRET|EMAIL|IBAN|CARD|PHONE)_\d+\]")


class Redactor:
    """Holds one request's placeholder table: `redact` every outgoing text, then `restore` the answer."""

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    @property
    def placeholders(self) -> dict[str, str]:
        """placeholder -> original value."""
        return dict(self._by_placeholder)

    def redact(self, text: str) -> str:
        for kind, pattern, check in _RULES:
            text = pattern.sub(lambda m, k=kind, c=check: self._replace(m, k, c), text)
        return text

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(0), m.group(0)), text)

    def _replace(self, match: re.Match[str], kind: str, check: _Check) -> str:
        value = match.group(0)
        if _PLACEHOLDER.fullmatch(value) or not check(value):
            return value
        if value not in self._by_value:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            placeholder = f"[{kind}_{self._counts[kind]}]"
            self._by_value[value] = placeholder
            self._by_placeholder[placeholder] = value
        return self._by_value[value]
