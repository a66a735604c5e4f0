"""Scan station: one always-focused field for USB keyboard-wedge scanners, single or batch."""
