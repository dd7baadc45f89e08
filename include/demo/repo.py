'''The demo repository `invoicing-service`: a small, working Python service with four real defects, one
per demo ticket, each confined to its own file so the four PRs merge in any order:

(a) no `azure-pipelines.yml`; (b) `requirements.txt` pins requests 2.31.0; (c) `invoicing/config.py` holds
a live-looking Stripe key that detect-secrets flags; (d) `invoicing/totals.py` has unused imports (F401).

The tests pass on the seed and after every fix: the key is read lazily, never by a test.'''

from __future__ import annotations

DEMO_REPO = "invoicing-service"

# Assembled at runtime so Ticketpilot's own sources hold no secret-shaped literal for scanners and push
# protection to trip over; the value is a made-up key in Stripe's live-key format.
_LEAKED_STRIPE_KEY = "".join(("sk_", "live_", "51Hx7Qm2", "LkZp9Vw3", "Tb8RnC4d"))

_README = """# invoicing-service

Computes invoice totals in integer cents and charges them through the payment provider.

## Installation

```bash
python -m pip install -r requirements.txt
```

## Usage

```python
from invoicing.totals import Invoice, LineItem, format_cents

invoice = Invoice("INV-1", items=[LineItem("Consulting", 2, 12_500)])
print(format_cents(invoice.total_cents, invoice.currency))  # 297.50 EUR
```

## Running the tests

```bash
python -m pytest -q
```
"""

_CHANGELOG = """# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]

## [0.3.0] - 2025-01-15

### Added

- Charge invoices through the payment provider.
"""

_PYPROJECT = """[project]
name = "invoicing-service"
version = "0.3.0"
description = "Invoice totals and payment-provider charges."
requires-python = ">=3.11"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]

[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E4", "E7", "E9", "F"]
"""

_INIT = '''"""Invoice arithmetic and a client for the payment provider."""

__version__ = "0.3.0"
'''

_CONFIG = f'''"""Settings of the payment provider integration."""

API_BASE_URL = "https://api.stripe.com/v1"
API_KEY = "{_LEAKED_STRIPE_KEY}"
TIMEOUT_S = 10.0
'''

_TOTALS = '''"""Invoice arithmetic in integer cents, so totals never pick up binary floating-point errors."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class LineItem:
    description: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass
class Invoice:
    number: str
    currency: str = "EUR"
    items: list[LineItem] = field(default_factory=list)
    tax_rate: Decimal = Decimal("0.19")

    @property
    def subtotal_cents(self) -> int:
        return sum(item.total_cents for item in self.items)

    @property
    def tax_cents(self) -> int:
        tax = Decimal(self.subtotal_cents) * self.tax_rate
        return int(tax.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.tax_cents


def format_cents(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d} {currency}"
'''

_CLIENT = '''"""A thin client for the payment provider's charges API."""

from __future__ import annotations

from typing import Any

import requests

from invoicing.totals import Invoice


class PaymentClient:
    def __init__(self, api_key: str, base_url: str, timeout_s: float = 10.0) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    @classmethod
    def from_config(cls) -> PaymentClient:
        from invoicing import config  # imported on use: importing the package needs no credentials

        return cls(config.API_KEY, config.API_BASE_URL, config.TIMEOUT_S)

    def charge_request(self, invoice: Invoice) -> requests.PreparedRequest:
        data = {
            "amount": invoice.total_cents,
            "currency": invoice.currency.lower(),
            "description": f"Invoice {invoice.number}",
        }
        request = requests.Request(
            "POST", f"{self.base_url}/charges", auth=(self.api_key, ""), data=data
        )
        return request.prepare()

    def charge(self, invoice: Invoice) -> dict[str, Any]:
        response = self.session.send(self.charge_request(invoice), timeout=self.timeout_s)
        response.raise_for_status()
        return response.json()
'''

_TEST_TOTALS = '''from decimal import Decimal

from invoicing.totals import Invoice, LineItem, format_cents


def test_totals_add_tax_rounded_half_up():
    invoice = Invoice("INV-1", items=[LineItem("Consulting", 2, 12_500), LineItem("Travel", 1, 3)])
    assert invoice.subtotal_cents == 25_003
    assert invoice.tax_cents == 4_751
    assert invoice.total_cents == 29_754


def test_empty_invoice_is_zero():
    assert Invoice("INV-2").total_cents == 0


def test_custom_tax_rate():
    invoice = Invoice("INV-3", items=[LineItem("Book", 1, 1_000)], tax_rate=Decimal("0.07"))
    assert invoice.total_cents == 1_070


def test_format_cents():
    assert format_cents(29_754, "EUR") == "297.54 EUR"
    assert format_cents(-5, "USD") == "-0.05 USD"
'''

_TEST_CLIENT = '''import pytest

from invoicing.totals import Invoice, LineItem

requests = pytest.importorskip("requests")

from invoicing.client import PaymentClient  # noqa: E402


def test_charge_request_carries_amount_and_auth():
    client = PaymentClient("test-key", "https://payments.example/v1/")
    invoice = Invoice("INV-9", currency="EUR", items=[LineItem("Licence", 1, 10_000)])
    prepared = client.charge_request(invoice)
    assert prepared.method == "POST"
    assert prepared.url == "https://payments.example/v1/charges"
    assert "amount=11900" in prepared.body
    assert prepared.headers["Authorization"].startswith("Basic ")
'''


def demo_repo_files() -> dict[str, str]:
    """Path → content of the seed commit."""
    return {
        "README.md": _README,
        "CHANGELOG.md": _CHANGELOG,
        "pyproject.toml": _PYPROJECT,
        "requirements.txt": "requests==2.31.0\n",
        "invoicing/__init__.py": _INIT,
        "invoicing/config.py": _CONFIG,
        "invoicing/totals.py": _TOTALS,
        "invoicing/client.py": _CLIENT,
        "tests/test_totals.py": _TEST_TOTALS,
        "tests/test_client.py": _TEST_CLIENT,
    }
