"""Activities: all I/O of a complaint (database, notifications, policy files)."""
