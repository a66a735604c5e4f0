"""Chain of custody: append-only, hash-chained events for every state change of a sample."""
