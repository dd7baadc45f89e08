"""`ticketpilot breakglass` against the real PostgreSQL: enroll (shown once), open with a current code, list,
close; a wrong code is exit 2 with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pyotp
import pytest
from airflow.models.crypto import get_fernet
from cryptography.fernet import Fernet

from tests.include.cli.helpers import run


@pytest.fixture(autouse=True)
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("USER", "root-ann")
    get_fernet.cache_clear()
    yield
    get_fernet.cache_clear()


def test_enroll_open_list_close(db: psycopg.Connection, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "breakglass", "enroll", "root-ann")
    assert code == 0 and "not shown again" in out
    totp = pyotp.TOTP(re.search(r"secret ([A-Z2-7]+)", out).group(1))
    code, _, err = run(capsys, "breakglass", "open", "acme", "--code", "000000" if totp.now() != "000000" else "1",
                       "--reason", "outage")
    assert code == 2 and "break-glass refused: the code is not valid now" in err
    code, out, _ = run(capsys, "breakglass", "open", "acme", "--code", totp.now(), "--reason", "outage",
                       "--minutes", "15")
    assert code == 0 and "root-ann alone decides tenant acme's gates until" in out
    window = re.search(r"window (\d+) open", out).group(1)
    listed = run(capsys, "breakglass", "list")[1]
    assert "acme" in listed and " open " in listed and "outage" in listed
    assert run(capsys, "breakglass", "close", window)[0] == 0
    code, _, err = run(capsys, "breakglass", "close", window)
    assert code == 2 and "no open break-glass window" in err
    assert " closed " in run(capsys, "breakglass", "list")[1]
