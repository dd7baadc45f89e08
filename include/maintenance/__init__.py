"""Scheduled upkeep of the platform's own data: backups and the restore drill that proves them."""
