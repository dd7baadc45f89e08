"""Ticket sources: each turns its own delivery format into the one `Ticket` contract at the door."""

from __future__ import annotations

from include.tickets.ado import SUPPORTED_EVENT_TYPES, AdoDelivery, DeliveryError, parse_ado_delivery

__all__ = ["SUPPORTED_EVENT_TYPES", "AdoDelivery", "DeliveryError", "parse_ado_delivery"]
