"""Shipments between sites (or to a central lab), manifests, receipt with reconciliation, and consent
withdrawal."""
