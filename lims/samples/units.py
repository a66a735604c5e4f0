"""Quantities with units: convert within a dimension, refuse unknown or incompatible units."""

from __future__ import annotations

from lims.core.errors import DomainError

# unit -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "l": ("volume", 1e6), "ml": ("volume", 1e3), "ul": ("volume", 1.0), "µl": ("volume", 1.0),
    "g": ("mass", 1e9), "mg": ("mass", 1e6), "ug": ("mass", 1e3), "µg": ("mass", 1e3), "ng": ("mass", 1.0),
    "cells": ("cells", 1.0), "blocks": ("blocks", 1.0), "slides": ("slides", 1.0),
}
STORED_UNITS = ("ml", "ul", "mg", "g", "ug", "ng", "cells", "blocks", "slides")


def normalise_unit(unit: str) -> str:
    """Return the canonical spelling of ``unit`` (case-insensitive, µ or u), or raise."""
    key = unit.strip().lower().replace("μ", "µ")
    if key not in UNITS:
        raise DomainError(f"unknown unit {unit!r}; use one of {', '.join(STORED_UNITS)}", field="unit")
    return {"µl": "ul", "µg": "ug"}.get(key, key)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between units of the same dimension (ml <-> ul, mg <-> g...)."""
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    (dim_a, fa), (dim_b, fb) = UNITS[src], UNITS[dst]
    if dim_a != dim_b:
        raise DomainError(f"cannot convert {src} ({dim_a}) to {dst} ({dim_b})", field="unit")
    return value * fa / fb


def same_dimension(a: str, b: str) -> bool:
    """Tell whether two units measure the same kind of quantity."""
    return UNITS[normalise_unit(a)][0] == UNITS[normalise_unit(b)][0]
