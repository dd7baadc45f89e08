"""Ticket sources: each turns its own delivery format into the one `Ticket` contract at the door."""

from __future__ import annotations

from include.tickets.ado import WORKITEM_EVENT_TYPES, AdoDelivery, DeliveryError, parse_ado_delivery
from include.tickets.ado_events import SUPPORTED_EVENT_TYPES, HookEvent, parse_event
from include.tickets.github import parse_github_event
from include.tickets.gitlab import parse_gitlab_event
from include.tickets.normalise import Ignored, TicketDelivery, TrackerEvent

__all__ = ["SUPPORTED_EVENT_TYPES", "WORKITEM_EVENT_TYPES", "AdoDelivery", "DeliveryError", "HookEvent", "Ignored",
           "TicketDelivery", "TrackerEvent", "parse_ado_delivery", "parse_event", "parse_github_event",
           "parse_gitlab_event"]
