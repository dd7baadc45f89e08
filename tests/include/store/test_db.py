from __future__ import annotations

from include.store.db import migrate, migrations


def test_migrations_are_numbered_uniquely() -> None:
    versions = [v for v, _, _ in migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


def test_migrate_twice_applies_nothing_the_second_time(db_url: str) -> None:
    assert migrate(db_url) == []
