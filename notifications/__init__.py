"""Airflow notifiers of the platform (providers keep theirs in `notifications/` too)."""
