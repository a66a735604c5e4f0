"""Marker catalogue, validated bulk import of results, and linked pseudonymised dataset export."""
