"""The Project Factory: an Azure DevOps project for a team, created or brought up to date idempotently."""
