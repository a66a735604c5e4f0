"""Trialbank statistics: pure functions on pandas DataFrames (no Flask, no database)."""
