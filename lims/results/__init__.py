"""Trial readout and marker-outcome association analyses for the PI (pseudonymised: study IDs, no dates)."""
