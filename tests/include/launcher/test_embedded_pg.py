from __future__ import annotations

from pathlib import Path

import psycopg

from include.launcher import embedded_pg
from include.launcher.embedded_pg import ConnectionBudget


def test_budget_counts_every_component_with_headroom() -> None:
    budget = ConnectionBudget.embedded(parallelism=4, pool_max=4)
    assert budget.parts["airflow"] == 4 * 15
    assert budget.parts["gate waiter"] == 2, "parked gates cost no connection each"
    assert budget.parts["spawner"] == 4 + 3, "its pool and LISTEN, and the run nudger's LISTEN and Airflow's"
    assert budget.used == 60 + 8 + 4 + 7 + 2 + 2
    assert budget.max_connections == 83 + 42 + 3
    assert "max_connections=128" in budget.describe()


def test_start_sets_max_connections_from_the_budget(tmp_path: Path) -> None:
    budget = ConnectionBudget.embedded(parallelism=2, pool_max=2)
    pg = embedded_pg.start(tmp_path / "pg" / "data", budget)
    try:
        with psycopg.connect(pg.libpq_url("ticketpilot")) as conn:
            assert int(conn.execute("SHOW max_connections").fetchone()[0]) == budget.max_connections
    finally:
        pg.server._cleanup()  # type: ignore[attr-defined]
