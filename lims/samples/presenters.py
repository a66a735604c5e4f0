"""Turn a stored sample into what pages and exports show: SPREC code and its explanation."""

from __future__ import annotations

import dataclasses
from typing import Any

from lims.samples import sprec
from lims.samples.models import Sample


def preanalytics(sample: Sample) -> Any:
    """Build the SPREC input (fluid or solid) from the sample's stored raw values."""
    solid = sample.sample_type.kind == "solid" or (sample.sample_type.sprec_type or "") == "TIS"
    cls = sprec.SolidPreanalytics if solid else sprec.FluidPreanalytics
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "sprec_type":
            values[f.name] = sample.sample_type.sprec_type
        elif f.name == "container_code":
            values[f.name] = sample.container_type.sprec_code if sample.container_type else None
        elif f.name == "aliquot_volume_ul":
            values[f.name] = _volume_ul(sample)
        else:
            values[f.name] = getattr(sample, f.name, None)
    return cls(**values)


def _volume_ul(sample: Sample) -> float | None:
    if sample.initial_quantity is None:
        return None
    factor = {"ml": 1000.0, "ul": 1.0}.get(sample.unit)
    return sample.initial_quantity * factor if factor else None


def sprec_for(sample: Sample) -> dict[str, Any] | None:
    """Return the SPREC code and its element-by-element explanation, or None for missed samples."""
    if sample.status == "missed":
        return None
    p = preanalytics(sample)
    return {"code": sprec.derive(p), "elements": sprec.explain(p)}
