"""The `ignis` command: run the whole system, migrate, seed, serve one process."""
