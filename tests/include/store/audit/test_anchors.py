"""Anchors outside the database: written once, read-only, newest wins; a local directory or an object store."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from include.store import audit
from include.store.audit.anchors import ANCHORS_ENV, latest_anchors, write_anchors


def test_each_head_is_anchored_once_in_a_read_only_file(db: psycopg.Connection, tmp_path: Path) -> None:
    audit.append(db, actor="a", action="x", subject="s", details={}, tenant="alpha")
    audit.append(db, actor="a", action="x", subject="s", details={}, tenant="beta")
    first = write_anchors(db, str(tmp_path))
    assert sorted((a.chain, a.seq) for a in first) == [("alpha", 1), ("beta", 1)]
    assert write_anchors(db, str(tmp_path)) == [], "a head already anchored is not written again"
    file = tmp_path / "alpha" / "000000000001.json"
    assert stat.S_IMODE(file.stat().st_mode) == 0o444
    audit.append(db, actor="a", action="x", subject="s", details={}, tenant="alpha")
    [second] = write_anchors(db, str(tmp_path))
    assert (second.chain, second.seq) == ("alpha", 2)
    latest = latest_anchors(str(tmp_path))
    assert {c: a.seq for c, a in latest.items()} == {"alpha": 2, "beta": 1}
    assert audit.verify(db, anchors=latest).ok


def test_the_default_place_is_under_the_platform_home_and_the_env_moves_it(
        db: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from include.settings import get_settings

    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    audit.append(db, actor="a", action="x", subject="s", details={}, tenant="alpha")
    write_anchors(db)
    assert (tmp_path / "home" / "audit-anchors" / "alpha" / "000000000001.json").exists()
    monkeypatch.setenv(ANCHORS_ENV, f"file://{tmp_path}/bucket/audit")
    [anchor] = write_anchors(db)
    assert (tmp_path / "bucket" / "audit" / "alpha" / "000000000001.json").exists(), "through ObjectStoragePath"
    assert latest_anchors()["alpha"] == anchor
    get_settings.cache_clear()


def test_no_anchors_yet_is_an_empty_map(tmp_path: Path) -> None:
    assert latest_anchors(str(tmp_path / "none")) == {}
