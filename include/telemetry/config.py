"""What spans and metrics share: whether telemetry is on, the process's service name, whether an OTLP collector
is configured for a signal, and where the embedded default's files are."""

from __future__ import annotations

import os
from pathlib import Path

from opentelemetry.sdk.resources import Resource


def enabled() -> bool:
    return os.environ.get("TICKETPILOT_TELEMETRY", "on").lower() not in ("off", "0", "false", "no")


def resource() -> Resource:
    """`OTEL_SERVICE_NAME`, else `ticketpilot-<component>` (the launcher names each process it starts)."""
    component = os.environ.get("TICKETPILOT_COMPONENT", "task")
    return Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"ticketpilot-{component}"})


def otlp_configured(signal: str) -> bool:
    """An OTLP endpoint for `signal` ("TRACES", "METRICS") or for all signals."""
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"))


def telemetry_file(name: str) -> Path:
    from include.settings import get_settings

    return get_settings().home / "telemetry" / name
