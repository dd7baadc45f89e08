"""How an agent step is executed: as a local child process (embedded default) or as a pod."""
