"""The platform's metrics with `opentelemetry-sdk`: the SLO figures and what a dashboard of tenants needs.

| metric | kind | attributes | recorded by |
|---|---|---|---|
| `ticketpilot.hook.duration` (ms) | histogram | tenant, source, status | the ingress, per delivery (hook → 2xx SLO) |
| `ticketpilot.model.calls` | counter | tenant, model, cache_hit | the router, per call (cache hit rate) |
| `ticketpilot.model.cost` (USD) | counter | tenant, model | the router, per call (cost per tenant) |
| `ticketpilot.outbox.depth` | gauge | | the spawner: deliveries not yet dispatched |
| `ticketpilot.gate.oldest_wait` (s) | gauge | | the spawner: the longest a pending gate has waited |

Exported like the spans (include/telemetry/tracing.py): to OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
else every `TICKETPILOT_METRICS_INTERVAL_S` (default 15 s) and at exit as JSON lines in
`$TICKETPILOT_HOME/telemetry/metrics.jsonl`. Off with `TICKETPILOT_TELEMETRY=off`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)

from include.telemetry.config import enabled, otlp_configured, resource, telemetry_file
from include.telemetry.files import append_locked

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
_lock = threading.Lock()
_provider: MeterProvider | None = None
_instruments: dict[str, Any] = {}


def metrics_path() -> Path:
    return telemetry_file(METRICS_FILE)


class JsonLinesMetricExporter(MetricExporter):
    """Each export as one JSON line (the SDK's own JSON form of the data), appended under a file lock."""

    def __init__(self, path: Path) -> None:
        super().__init__(preferred_temporality={Counter: AggregationTemporality.CUMULATIVE,
                                                Histogram: AggregationTemporality.CUMULATIVE})
        self.path = path

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        line = json.dumps(json.loads(metrics_data.to_json(indent=None))) + "\n"
        return MetricExportResult.SUCCESS if append_locked(self.path, line) else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def provider() -> MeterProvider | None:
    global _provider
    if not enabled():
        return None
    with _lock:
        if _provider is None:
            if otlp_configured("METRICS"):
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

                exporter: MetricExporter = OTLPMetricExporter()
            else:
                exporter = JsonLinesMetricExporter(metrics_path())
            interval_ms = float(os.environ.get("TICKETPILOT_METRICS_INTERVAL_S", "15")) * 1000
            _provider = MeterProvider(
                metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms)],
                resource=resource())
    return _provider


def reset_for_tests() -> None:
    global _provider
    with _lock:
        if _provider is not None:
            _provider.shutdown()
        _provider = None
        _instruments.clear()


def flush() -> None:
    if _provider is not None:
        _provider.force_flush()


def _instrument(name: str, make: Callable[[Any], Any]) -> Any:
    made = provider()
    if made is None:
        return None
    with _lock:
        if name not in _instruments:
            _instruments[name] = make(made.get_meter("ticketpilot"))
        return _instruments[name]


def record_hook(duration_ms: float, *, tenant: str, source: str, status: int) -> None:
    histogram = _instrument("hook", lambda m: m.create_histogram(
        "ticketpilot.hook.duration", unit="ms", description="hook delivery to answer"))
    if histogram is not None:
        histogram.record(duration_ms, {"tenant": tenant, "source": source, "status": status})


def record_model_call(*, tenant: str, model: str, cost_usd: float, cache_hit: bool) -> None:
    calls = _instrument("calls", lambda m: m.create_counter("ticketpilot.model.calls", description="model calls"))
    cost = _instrument("cost", lambda m: m.create_counter("ticketpilot.model.cost", unit="USD",
                                                          description="model spend"))
    if calls is not None:
        calls.add(1, {"tenant": tenant, "model": model, "cache_hit": cache_hit})
        cost.add(cost_usd, {"tenant": tenant, "model": model})


def observe_platform(read: Callable[[], tuple[int, float]]) -> None:
    """Register the outbox depth and the oldest gate wait, read by `read()` at each export (one process: the
    spawner, which has the database at hand)."""

    def depth(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(read()[0])]

    def wait(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(read()[1])]

    _instrument("outbox", lambda m: m.create_observable_gauge(
        "ticketpilot.outbox.depth", callbacks=[_safe(depth)], description="deliveries not yet dispatched"))
    _instrument("gates", lambda m: m.create_observable_gauge(
        "ticketpilot.gate.oldest_wait", callbacks=[_safe(wait)], unit="s",
        description="longest wait of a pending gate"))


def _safe(callback: Callable[[CallbackOptions], Iterable[Observation]]
          ) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def guarded(options: CallbackOptions) -> Iterable[Observation]:
        try:
            return callback(options)
        except Exception as exc:  # a metric must never take its process down (database away, say)
            log.warning("metric not read: %s", exc)
            return []
    return guarded


def points(path: Path, name: str) -> list[dict[str, Any]]:
    """Every data point of metric `name` in a metrics file, oldest export first (for `show` and tests)."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        for exported in data.get("resource_metrics", []):
            for scope in exported.get("scope_metrics", []):
                for metric in scope.get("metrics", []):
                    if metric.get("name") == name:
                        found += metric.get("data", {}).get("data_points", [])
    return found
