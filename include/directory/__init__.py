"""The Team Directory: load a directory file and reconcile the platform to it."""
