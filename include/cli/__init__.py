"""The `ticketpilot` command (include/cli/__main__.py): what a team runs to bring its own repository."""
