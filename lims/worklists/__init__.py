"""Worklists and search at the bench: visits due per site, and the sample grid with its CSV download."""
