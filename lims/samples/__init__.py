"""Samples: accessioning, aliquots and derivatives, SPREC, labels, scan station."""
