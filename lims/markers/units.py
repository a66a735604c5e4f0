"""Marker units: which lab units convert to a catalogue unit, and by what factor."""

from __future__ import annotations

# unit (lower case, µ spelled u) -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    # mass concentration, base pg/mL
    "pg/ml": ("concentration", 1.0), "pg/l": ("concentration", 1e-3), "ng/l": ("concentration", 1.0),
    "ng/ml": ("concentration", 1e3), "ug/l": ("concentration", 1e3), "ng/dl": ("concentration", 10.0),
    "ug/ml": ("concentration", 1e6), "mg/l": ("concentration", 1e6), "mg/dl": ("concentration", 1e7),
    "g/l": ("concentration", 1e9),
    # proportions, base percent
    "%": ("proportion", 1.0), "percent": ("proportion", 1.0), "fraction": ("proportion", 100.0),
    # densities and counts
    "cells/mm2": ("density", 1.0), "cells/mm²": ("density", 1.0), "cells/um2": ("density", 1e6),
    "mut/mb": ("mutation_rate", 1.0), "mutations/mb": ("mutation_rate", 1.0),
    "10^9/l": ("cell_count", 1.0), "x10^9/l": ("cell_count", 1.0), "/nl": ("cell_count", 1.0),
    "10^6/l": ("cell_count", 1e-3), "/ul": ("cell_count", 1e-3), "cells/ul": ("cell_count", 1e-3),
    "u/ml": ("activity", 1.0), "ku/l": ("activity", 1.0), "u/l": ("activity", 1e-3),
    "score": ("score", 1.0), "ratio": ("ratio", 1.0), "copies/ml": ("copies", 1.0), "mtm/ml": ("copies", 1.0),
    "reads": ("reads", 1.0),
}


def unit_key(unit: str) -> str:
    """Return the lookup form of a unit: trimmed, lower case, micro sign as u, no spaces."""
    return unit.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")


def known(unit: str) -> bool:
    """Tell whether ``unit`` is a unit the importer can convert."""
    return unit_key(unit) in UNITS


def factor(from_unit: str, to_unit: str) -> float | None:
    """Return the factor turning a value in ``from_unit`` into ``to_unit``, or None if they don't convert."""
    a, b = unit_key(from_unit), unit_key(to_unit)
    if a == b:
        return 1.0
    if a not in UNITS or b not in UNITS:
        return None
    (dim_a, fa), (dim_b, fb) = UNITS[a], UNITS[b]
    if dim_a != dim_b:
        return None
    return fa / fb
