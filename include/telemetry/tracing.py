"""One trace per ticket, across every process that works on it, with `opentelemetry-sdk`.

A ticket's trace id is derived from its key (`ticket_trace_id`), and so is the id of its root: the ingress, the
spawner, each agent process or pod and the merge step start their spans under that root without passing
anything to each other, and they land in one trace however they were started (a retried task, a pod on another
node). Within a process, spans nest as usual (an agent step's model calls are its children).

Where spans go: an OTLP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, batched;
otherwise, the embedded default, one JSON line per span in `$TICKETPILOT_HOME/telemetry/spans.jsonl`, written as
each span ends (a short agent process must not lose its spans at exit), appended under a file lock by every
process. `TICKETPILOT_TELEMETRY=off` turns it off. Telemetry never fails the work it observes: an exporter
error is logged and dropped.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from include.telemetry.config import enabled, otlp_configured, resource, telemetry_file
from include.telemetry.files import append_locked

SPANS_FILE = "spans.jsonl"
_lock = threading.Lock()
_provider: TracerProvider | None = None


def ticket_trace_id(ticket_key: str) -> int:
    return int(hashlib.sha256(f"ticketpilot-trace:{ticket_key}".encode()).hexdigest()[:32], 16)


def ticket_root_span_id(ticket_key: str) -> int:
    return int(hashlib.sha256(f"ticketpilot-root:{ticket_key}".encode()).hexdigest()[:16], 16)


def spans_path() -> Path:
    return telemetry_file(SPANS_FILE)


class JsonLinesExporter(SpanExporter):
    """Each span as one JSON line, appended under an exclusive lock: several processes share the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(_record(s), default=str) + "\n" for s in spans)
        return SpanExportResult.SUCCESS if append_locked(self.path, lines) else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def _record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    parent = span.parent
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}",
            "parent_id": f"{parent.span_id:016x}" if parent is not None else None, "name": span.name,
            "links": [f"{link.context.trace_id:032x}/{link.context.span_id:016x}" for link in span.links],
            "start": (span.start_time or 0) / 1e9, "end": (span.end_time or 0) / 1e9,
            "status": span.status.status_code.name.lower(), "service": span.resource.attributes.get("service.name"),
            "attributes": dict(span.attributes or {})}


def provider() -> TracerProvider | None:
    """This process's provider, made on first use; None when telemetry is off. Ours, not the global one, so
    Airflow's own tracing setup and ours never replace each other."""
    global _provider
    if not enabled():
        return None
    with _lock:
        if _provider is None:
            made = TracerProvider(resource=resource())
            if otlp_configured("TRACES"):
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                made.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            else:
                made.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(spans_path())))
            _provider = made
    return _provider


def reset_for_tests() -> None:
    """Forget the provider, so the next span reads the environment again (tests change TICKETPILOT_HOME)."""
    global _provider
    with _lock:
        if _provider is not None:
            _provider.shutdown()
        _provider = None


@contextmanager
def span(name: str, *, ticket_key: str | None = None,
         attributes: Mapping[str, Any] | None = None) -> Iterator[trace.Span]:
    """A span named `name`: a child of the current span in this process, else of the ticket's root when
    `ticket_key` is given, else a trace of its own. An exception is recorded on it and raised on."""
    made = provider()
    if made is None:
        yield trace.INVALID_SPAN
        return
    parent, links = None, []
    current = trace.get_current_span().get_span_context()
    if ticket_key and (not current.is_valid or current.trace_id != ticket_trace_id(ticket_key)):
        # Under the ticket's root, not under whatever span the process has current: Airflow's task runner
        # carries the DAG run's own trace context into every task. That span is linked instead.
        root = SpanContext(trace_id=ticket_trace_id(ticket_key), span_id=ticket_root_span_id(ticket_key),
                           is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        parent = trace.set_span_in_context(NonRecordingSpan(root))
        links = [trace.Link(current)] if current.is_valid else []
    tracer = made.get_tracer("ticketpilot")
    attrs = {k: v for k, v in {**({"ticket.key": ticket_key} if ticket_key else {}), **(attributes or {})}.items()
             if v is not None}
    with tracer.start_as_current_span(name, context=parent or otel_context.get_current(), attributes=attrs,
                                      links=links, record_exception=True, set_status_on_exception=True) as opened:
        yield opened
        if opened.is_recording() and opened.status.status_code is StatusCode.UNSET:
            opened.set_status(Status(StatusCode.OK))
