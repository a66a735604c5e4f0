"""Turn a stored sample into what pages and exports show: SPREC code and its explanation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lims.samples import sprec
from lims.samples.models import Sample
from lims.studies.models import ContainerType, SampleType

_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls))
           for cls in (sprec.FluidPreanalytics, sprec.SolidPreanalytics)}
# The names the SPREC inputs are read by: an export selects the Sample columns among them.
SPREC_COLUMNS = frozenset({"initial_quantity", "unit"}
                          | {name for names in _FIELDS.values() for name in names})


def preanalytics(sample: Sample) -> Any:
    """Build the SPREC input (fluid or solid) from the sample's stored raw values."""
    return preanalytics_of(sample.sample_type, sample.container_type,
                           lambda name: getattr(sample, name, None))


def preanalytics_of(sample_type: SampleType, container_type: ContainerType | None,
                    column: Callable[[str], Any]) -> Any:
    """Build the SPREC input from a sample's type, container and stored values (``column(name)``: a Sample's
    attribute, or a row of the sample table read without the ORM)."""
    solid = sample_type.kind == "solid" or (sample_type.sprec_type or "") == "TIS"
    cls = sprec.SolidPreanalytics if solid else sprec.FluidPreanalytics
    values: dict[str, Any] = {}
    for name in _FIELDS[cls]:
        if name == "sprec_type":
            values[name] = sample_type.sprec_type
        elif name == "container_code":
            values[name] = container_type.sprec_code if container_type else None
        elif name == "aliquot_volume_ul":
            values[name] = _volume_ul(column("initial_quantity"), column("unit"))
        else:
            values[name] = column(name)
    return cls(**values)


def _volume_ul(quantity: float | None, unit: str | None) -> float | None:
    if quantity is None:
        return None
    factor = {"ml": 1000.0, "ul": 1.0}.get(unit or "")
    return quantity * factor if factor else None


def sprec_for(sample: Sample) -> dict[str, Any] | None:
    """Return the SPREC code and its element-by-element explanation, or None for missed samples."""
    if sample.status == "missed":
        return None
    p = preanalytics(sample)
    return {"code": sprec.derive(p), "elements": sprec.explain(p)}
