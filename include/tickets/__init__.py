"""Ticket sources: each turns its own delivery format into the one `Ticket` contract at the door."""

from __future__ import annotations

from include.tickets.ado import WORKITEM_EVENT_TYPES, AdoDelivery, DeliveryError, parse_ado_delivery
from include.tickets.ado_events import SUPPORTED_EVENT_TYPES, HookEvent, parse_event

__all__ = ["SUPPORTED_EVENT_TYPES", "WORKITEM_EVENT_TYPES", "AdoDelivery", "DeliveryError", "HookEvent",
           "parse_ado_delivery", "parse_event"]
