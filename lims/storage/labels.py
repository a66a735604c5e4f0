"""What a storage unit's label says: its barcode, its name and where it is (site first)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lims.labels.layout import LabelContent
from lims.labels.text import Field
from lims.storage.models import StorageUnit
from lims.storage.service import SEP, unit_path


def unit_label(session: Session, unit: StorageUnit) -> LabelContent:
    """Return the content of a box, rack or freezer label: barcode, name and the path of its parents."""
    parents = [u.name for u in unit_path(session, unit)[:-1]]
    kind = unit.kind.replace("_", " ")
    size = f" {unit.rows}×{unit.cols}" if unit.rows and unit.cols else ""
    path = SEP.join([unit.site.code, *parents])
    short = SEP.join([unit.site.code, *parents[-1:]]) if len(parents) > 1 else None
    return LabelContent(unit.barcode, unit.barcode, (
        Field("name", f"{unit.name} ({kind}{size})", unit.name),
        Field("path", path, short),
    ))
