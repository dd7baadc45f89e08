"""Tenants: who they are, how their hooks authenticate, where their work runs."""
