"""Disposal: requests, their signed approval, and the list of quarantined samples waiting for it."""
