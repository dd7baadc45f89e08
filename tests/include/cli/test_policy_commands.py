"""`ticketpilot policy set|show` against the real PostgreSQL: a bundle put in force and shown, a refused one
answered with exit 2 and the reason, nothing stored."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.include.cli.helpers import run

BUNDLE = ('package ticketpilot.tenant\n\nimport rego.v1\n\n'
          'path_rules := [{"glob": "db/migrations/*", "risk": "R3", "why": "schema changes need the DBA"}]\n')


def test_set_and_show(db: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("USER", "ops-ann")
    assert "has no policy bundle" in run(capsys, "policy", "show", "acme")[1]
    path = tmp_path / "acme.rego"
    path.write_text(BUNDLE)
    code, out, _ = run(capsys, "policy", "set", "acme", str(path))
    assert code == 0 and "version 1 in force" in out
    code, out, _ = run(capsys, "policy", "show", "acme")
    assert code == 0 and out.startswith("# tenant acme, version 1, set by ops-ann") and "db/migrations/*" in out


def test_a_refused_bundle_is_exit_2_with_the_reason(db: psycopg.Connection, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.rego"
    path.write_text("package ticketpilot.risk\n")
    code, _, err = run(capsys, "policy", "set", "acme", str(path))
    assert code == 2 and "refused: a tenant bundle is one module in `package ticketpilot.tenant`" in err
    code, _, err = run(capsys, "policy", "set", "acme", str(tmp_path / "missing.rego"))
    assert code == 2 and "cannot read" in err
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.policy_bundles").fetchone()["n"] == 0
