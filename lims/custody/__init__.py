"""Chain of custody: append-only events for every state change of a sample, one keyed chain per sample."""
