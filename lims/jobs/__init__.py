"""Background jobs on an existing queue engine (Huey): long work leaves the web process."""
