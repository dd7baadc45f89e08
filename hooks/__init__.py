"""Airflow hooks: one per credential shape (Azure DevOps)."""
