"""Shared foundations: database base, errors, access control."""
