"""Where the code index points for a ticket: pointers into the symbols its words lead to on the demo repository
(indexed in the embedded PostgreSQL), and none, with a reason in the log, where no index can be had."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from include.agents import code_pointers
from include.agents.llm import LlmConfig
from include.agents.workspace import checked_out
from include.contracts import Ticket
from include.demo.repo import DEMO_REPO
from include.scm.local import LocalForge
from include.settings import get_settings

POINTER = re.compile(r"(?P<path>[^:]+):(?P<start>\d+)-(?P<end>\d+) (?P<kind>[\w-]+) (?P<symbol>\S+): (?P<first>.*)")


def test_the_ticket_s_words_lead_to_the_symbols_it_is_about(tenant_forge: LocalForge,
                                                            feature_ticket: Ticket) -> None:
    with checked_out(tenant_forge, DEMO_REPO, "main") as workdir:
        pointers = code_pointers.for_ticket(feature_ticket, workdir)
    assert 0 < len(pointers) <= code_pointers.POINTERS
    first = POINTER.fullmatch(pointers[0])
    assert first is not None, pointers[0]
    assert first["path"] == "invoicing/totals.py", pointers
    assert 1 <= int(first["start"]) <= int(first["end"]) and first["symbol"]
    assert all(POINTER.fullmatch(line) for line in pointers), "\n".join(pointers)


def test_without_a_platform_database_there_are_no_pointers_and_the_log_says_why(
        tenant_forge: LocalForge, feature_ticket: Ticket, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    with checked_out(tenant_forge, DEMO_REPO, "main") as workdir:
        monkeypatch.delenv("TICKETPILOT_DB_URL")
        get_settings.cache_clear()
        with caplog.at_level(logging.INFO, logger=code_pointers.__name__):
            assert code_pointers.for_ticket(feature_ticket, workdir) == []
    get_settings.cache_clear()
    assert "no platform database, so no code index" in caplog.text


def test_an_index_that_fails_gives_no_pointers_and_a_warning(feature_ticket: Ticket, db: object, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=code_pointers.__name__):
        assert code_pointers.for_ticket(feature_ticket, tmp_path) == []  # not a git repository
    assert "the code index gave no pointers (ScmError" in caplog.text


@pytest.mark.parametrize(("model", "window", "fits"), [
    ("openai:gpt-4.1-mini", None, True),
    ("llamacpp:emulated", None, True),
    ("llamacpp:smollm2-135m-instruct", None, False),
    ("openai:gpt-4.1-mini", "4096", False),
])
def test_pointers_go_only_to_a_model_whose_window_has_room(model: str, window: str | None, fits: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if window:
        monkeypatch.setenv("TICKETPILOT_LLM_CONTEXT_TOKENS", window)
    else:
        monkeypatch.delenv("TICKETPILOT_LLM_CONTEXT_TOKENS", raising=False)
    assert code_pointers.fit(LlmConfig(model=model)) is fits
    assert code_pointers.fit(None) is False
