"""Audit: the access and data-change trail for monitors and auditors (filter and export)."""
