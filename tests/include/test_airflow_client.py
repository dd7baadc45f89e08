"""The task log as text: Airflow 3.3's structured log lines (shape recorded from a failed merge task here),
with a failure's exception kept, since it lives in `error_detail` and not in the event text."""

from __future__ import annotations

from include.airflow_client import _log_line

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
