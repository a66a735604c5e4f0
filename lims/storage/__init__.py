"""Storage: freezers, racks, boxes with grids, non-grid containers, and sample positions."""
