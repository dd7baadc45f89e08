"""Telemetry: one OpenTelemetry trace per ticket (include/telemetry/tracing.py) and its timeline (show.py)."""

from include.telemetry.tracing import span, ticket_trace_id

__all__ = ["span", "ticket_trace_id"]
