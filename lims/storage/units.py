"""Storage units: creating them and moving them (compare-and-set on ``StorageUnit.version``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lims import access
from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError
from lims.custody.service import record_event
from lims.samples.models import Sample
from lims.storage.locations import descendant_ids, location_paths, unit_path
from lims.storage.models import GRID_KINDS, KINDS, LEAF_KINDS, LOOSE_KINDS, Placement, StorageUnit
from lims.storage.placement import admits
from lims.studies.models import SampleType, Site


# ----- units ------------------------------------------------------------------------------------------
def create_unit(session: Session, *, site: Site, kind: str, name: str, barcode: str,
                parent: StorageUnit | None = None, set_temp_c: float | None = None, rows: int | None = None,
                cols: int | None = None, box_type: str | None = None, allowed_types: str | None = None,
                capacity: int | None = None, label_scheme: str = "A1", by: User | None = None) -> StorageUnit:
    """Create a storage unit after checking the hierarchy rules; the barcode is unique per site."""
    name, barcode = (name or "").strip(), (barcode or "").strip().upper()
    if kind not in KINDS:
        raise DomainError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", field="kind")
    if not name:
        raise DomainError("give the unit a name", field="name")
    if not barcode:
        raise DomainError("give the unit a barcode", field="barcode")
    if kind in GRID_KINDS:
        if not rows or not cols or not (1 <= rows <= 26 and 1 <= cols <= 99):
            raise DomainError("a box needs rows (1-26) and columns (1-99)", field="rows")
    elif rows or cols:
        raise DomainError(f"only boxes have a grid; a {kind.replace('_', ' ')} has none", field="rows")
    if capacity is not None and (kind not in LOOSE_KINDS or capacity < 1):
        raise DomainError("only bags, bins and block cabinets take a capacity (at least 1)", field="capacity")
    if label_scheme not in ("A1", "1"):
        raise DomainError("label scheme must be 'A1' (row letter + column) or '1' (numbered)",
                          field="label_scheme")
    if parent is not None:
        if parent.site_id != site.id:
            raise DomainError(f"{parent.name} is at site {parent.site.code}, not {site.code}", field="parent")
        if parent.kind in LEAF_KINDS:
            raise DomainError(f"{parent.name} is a {parent.kind} and holds tubes, not other units",
                              field="parent")
    access.require_site(by, site, "setting up storage")
    if session.scalar(select(StorageUnit.id).where(StorageUnit.site_id == site.id,
                                                   func.upper(StorageUnit.barcode) == barcode)) is not None:
        raise Conflict(f"site {site.code} already has a unit with barcode {barcode}", field="barcode")
    codes = ",".join(c.strip().upper() for c in (allowed_types or "").split(",") if c.strip()) or None
    unit = StorageUnit(site_id=site.id, parent_id=parent.id if parent else None, kind=kind, name=name,
                       barcode=barcode, set_temp_c=set_temp_c, rows=rows if kind in GRID_KINDS else None,
                       cols=cols if kind in GRID_KINDS else None, box_type=box_type or None,
                       allowed_types=codes, capacity=capacity, label_scheme=label_scheme)
    session.add(unit)
    session.flush()
    return unit


def move_unit(session: Session, unit: StorageUnit, new_parent: StorageUnit, *, by: User | None,
              expected_version: int | None = None, at: datetime | None = None) -> int:
    """Move a box or rack (with everything inside) under ``new_parent``; every sample inside gets a ``moved``
    event.

    Returns how many samples moved.
    """
    access.require_site(by, unit.site, f"moving {unit.name} ({unit.barcode})")
    access.require_site(by, new_parent.site, f"moving into {new_parent.name} ({new_parent.barcode})")
    if new_parent.id == unit.id:
        raise DomainError(f"cannot move {unit.name} ({unit.barcode}) into itself", field="parent")
    inside = descendant_ids(session, unit.id)
    if new_parent.id in inside:
        raise DomainError(f"cannot move {unit.name} ({unit.barcode}) into {new_parent.name} "
                          f"({new_parent.barcode}): {new_parent.name} is inside {unit.name}", field="parent")
    if new_parent.site_id != unit.site_id:
        raise DomainError(f"{new_parent.name} is at site {new_parent.site.code} but {unit.name} is at "
                          f"{unit.site.code}: ship the samples instead", field="parent")
    if new_parent.kind in LEAF_KINDS:
        raise DomainError(f"{new_parent.name} is a {new_parent.kind} and holds tubes, not other units",
                          field="parent")
    if expected_version is not None and unit.version != expected_version:
        raise Conflict(f"{unit.name} was changed by someone else since you looked; reload and try again")
    if unit.parent_id == new_parent.id:
        raise Conflict(f"{unit.name} is already in {new_parent.name}", field="parent")
    new_chain = unit_path(session, new_parent)
    types = session.scalars(
        # DISTINCT on ids: PostgreSQL cannot compare the type's JSON columns.
        select(SampleType).where(SampleType.id.in_(
            select(Sample.sample_type_id).join(Placement, Placement.sample_id == Sample.id)
            .where(Placement.unit_id.in_(inside))))
    ).all()
    for sample_type in types:
        refusal = admits(new_chain, sample_type)
        if refusal:
            raise DomainError(f"cannot move {unit.name} there: {refusal}", field="parent")
    sample_ids = list(session.scalars(select(Placement.sample_id).where(Placement.unit_id.in_(inside))
                                      .order_by(Placement.sample_id)))
    before = location_paths(session, sample_ids)
    name = unit.name
    try:
        with session.begin_nested():
            unit.parent_id = new_parent.id
            session.flush()
    except StaleDataError:
        raise Conflict(f"{name} was just moved by someone else; reload and try again") from None
    after = location_paths(session, sample_ids)
    for sample_id in sample_ids:
        record_event(session, sample_id, "moved", by=by, at=at, site_code=unit.site.code,
                     from_location=before.get(sample_id), to_location=after.get(sample_id),
                     details={"unit": unit.barcode, "into": new_parent.barcode})
    return len(sample_ids)


