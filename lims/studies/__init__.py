"""Studies: the protocol (sites, strata, time points, kits) loaded from a definition file."""
