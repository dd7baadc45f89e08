"""The task log as text: Airflow 3.3's structured log lines (shape recorded from a failed merge task here),
with a failure's exception kept, since it lives in `error_detail` and not in the event text."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include.airflow_client import AirflowClient, _log_line

FAILED = {
    "timestamp": "2026-12-06T21:38:02.538923Z", "level": "error", "event": "Task failed with exception",
    "task_id": "merge", "logger": "task", "filename": "task_runner.py", "lineno": 1639,
    "error_detail": [{"exc_type": "AirflowFailException",
                      "exc_value": "tp/403-fix no longer merges onto main@c620c4a50292: conflicts in "
                                   "freezegun/config.py",
                      "exc_notes": [], "syntax_error": None, "is_cause": False, "frames": []}],
}


def test_a_failure_line_carries_its_exception() -> None:
    assert _log_line(FAILED) == ("Task failed with exception\nAirflowFailException: tp/403-fix no longer merges onto "
                                 "main@c620c4a50292: conflicts in freezegun/config.py")


def test_plain_and_structured_lines_read_as_their_text() -> None:
    assert _log_line({"event": "::group::Pre Execute", "level": "info"}) == "::group::Pre Execute"
    assert _log_line("a line from an older log") == "a line from an older log"


class SlowFirstTrigger(BaseHTTPRequestHandler):
    """An API server whose first trigger creates the run but answers too late; later ones find it (409)."""

    posts: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/auth/token":
            return self._answer(201, {"access_token": "t"})
        type(self).posts.append(json.loads(body)["dag_run_id"])
        if len(type(self).posts) == 1:
            time.sleep(0.6)  # the client gave up at 0.3 s; the run exists all the same
            return self._answer(200, {"dag_run_id": "r1", "state": "queued"})
        return self._answer(409, {"detail": "exists"})

    def do_GET(self) -> None:  # noqa: N802
        self._answer(200, {"dag_run_id": "r1", "state": "queued"})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    SlowFirstTrigger.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowFirstTrigger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_trigger_that_timed_out_is_made_again_and_finds_its_run(slow_server: str) -> None:
    with AirflowClient(slow_server, "u", "p", timeout=0.3) as client:
        run, created = client.trigger("ticket__acme__1", "r1")
    assert SlowFirstTrigger.posts == ["r1", "r1"], "the same run id again: the second call cannot make a second run"
    assert run["dag_run_id"] == "r1" and created is False
