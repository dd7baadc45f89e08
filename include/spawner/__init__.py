"""The spawner turns accepted tickets (outbox rows) into running DAG runs within seconds."""
