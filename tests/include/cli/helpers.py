"""What the CLI tests share: run `ticketpilot` in-process and capture what it printed."""

from __future__ import annotations

import pytest

from include.cli.__main__ import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `ticketpilot ARGV`."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
