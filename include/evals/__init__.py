"""Evaluation of the agents' model skills: golden tickets, deterministic scorers, a runner that goes through the
model router and records scored rows (migration 0004), and model cards rendered from those rows.

`python -m include.evals` runs it by hand; dags/maintenance_evals.py runs it nightly.
"""
