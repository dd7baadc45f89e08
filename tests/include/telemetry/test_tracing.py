"""One trace per ticket across processes, written to the embedded span file and shown as a timeline: spans of
an agent process (a real child process) and of this one land in the ticket's trace by its key alone; spans nest
within a process; an error is marked; a torn line is skipped; `show` prints the indented timeline and exits 2
for a ticket without spans; TICKETPILOT_TELEMETRY=off writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from include import telemetry
from include.settings import REPO_ROOT, get_settings
from include.telemetry.__main__ import main
from include.telemetry.show import ticket_spans, timeline
from include.telemetry.tracing import reset_for_tests, spans_path, ticket_root_span_id

AGENT = """
from include import telemetry
with telemetry.span("agent.dev", ticket_key="acme-7", attributes={"run.id": "ticket__r1"}) as step:
    with telemetry.span("model.call", attributes={"model": "local:smollm2", "tokens.in": 120, "cache.hit": False}):
        pass
    step.set_attribute("agent.outcome", "ok")
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path))
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("TICKETPILOT_TELEMETRY", raising=False)
    monkeypatch.setenv("TICKETPILOT_COMPONENT", "api-server")
    get_settings.cache_clear()
    reset_for_tests()
    yield tmp_path
    reset_for_tests()
    get_settings.cache_clear()


def test_spans_of_two_processes_form_one_ticket_trace(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with telemetry.span("hook.accept", ticket_key="acme-7", attributes={"event.type": "workitem.created"}):
        pass
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TICKETPILOT_COMPONENT": "agent-dev"}
    subprocess.run([sys.executable, "-c", AGENT], env=env, check=True, cwd=REPO_ROOT)
    with pytest.raises(RuntimeError), telemetry.span("merge", ticket_key="acme-7"):
        raise RuntimeError("the forge refused the merge")
    with telemetry.span("hook.accept", ticket_key="acme-8"):
        pass

    spans = ticket_spans(spans_path(), "acme-7")
    assert [s["name"] for s in spans] == ["hook.accept", "agent.dev", "model.call", "merge"]
    assert {s["trace_id"] for s in spans} == {f"{telemetry.ticket_trace_id('acme-7'):032x}"}
    root = f"{ticket_root_span_id('acme-7'):016x}"
    by_name = {s["name"]: s for s in spans}
    assert by_name["hook.accept"]["parent_id"] == root == by_name["agent.dev"]["parent_id"]
    assert by_name["model.call"]["parent_id"] == by_name["agent.dev"]["span_id"], "nested within the agent process"
    assert (by_name["hook.accept"]["service"], by_name["agent.dev"]["service"]) == ("ticketpilot-api-server",
                                                                                    "ticketpilot-agent-dev")
    assert by_name["merge"]["status"] == "error" and by_name["agent.dev"]["status"] == "ok"

    with spans_path().open("a") as torn:
        torn.write('{"trace_id": "')  # a writer killed mid-line
    lines = timeline("acme-7", ticket_spans(spans_path(), "acme-7"))
    assert lines[0].startswith("ticket acme-7: 4 spans over")
    assert "hook.accept" in lines[1] and "event.type=workitem.created" in lines[1]
    assert lines[3].index("model.call") == lines[2].index("agent.dev") + 2, "indented under its step"
    assert "model=local:smollm2" in lines[3] and "cache.hit=False" in lines[3]
    assert " !" in lines[4] and "merge" in lines[4]

    assert main(["show", "acme-7"]) == 0 and "agent.dev" in capsys.readouterr().out
    assert main(["show", "acme-99"]) == 2 and "no spans recorded" in capsys.readouterr().out


def test_a_foreign_current_span_is_linked_not_parent(home: Path) -> None:
    """Airflow's task runner carries the DAG run's trace context into the task: the ticket's span must still
    land in the ticket's trace, linked to Airflow's."""
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    airflow_span = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True,
                               trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with otel_trace.use_span(NonRecordingSpan(airflow_span)), telemetry.span("merge", ticket_key="acme-7"):
        with telemetry.span("scm.merge", ticket_key="acme-7"):
            pass
    merge, inner = sorted(ticket_spans(spans_path(), "acme-7"), key=lambda s: s["name"])
    assert merge["parent_id"] == f"{ticket_root_span_id('acme-7'):016x}"
    assert merge["links"] == [f"{0xABC:032x}/{0xDEF:016x}"]
    assert inner["parent_id"] == merge["span_id"] and inner["links"] == [], "same trace: nested, no link"


def test_off_writes_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_TELEMETRY", "off")
    reset_for_tests()
    with telemetry.span("hook.accept", ticket_key="acme-7") as span:
        assert not span.is_recording()
    assert not spans_path().exists()


def test_the_file_holds_one_json_object_per_line(home: Path) -> None:
    for n in range(3):
        with telemetry.span("dispatch", ticket_key=f"acme-{n}", attributes={"run.id": "ticket__r1"}):
            pass
    records = [json.loads(line) for line in spans_path().read_text().splitlines()]
    assert [r["attributes"]["ticket.key"] for r in records] == ["acme-0", "acme-1", "acme-2"]
    assert all(r["end"] >= r["start"] > 0 for r in records)
