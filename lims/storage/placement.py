"""Placing samples: which unit admits a sample, free positions, placing by scan and removing.

Two people placing into the same position race on the database's unique constraint
``uq_placement_unit_id_row_col``: the loser gets :class:`PositionTaken`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lims import access
from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError
from lims.custody.service import record_event
from lims.samples import service as samples_service
from lims.samples.models import Sample
from lims.storage.locations import location_path, parse_position, unit_path
from lims.storage.models import GRID_KINDS, LOOSE_KINDS, Placement, StorageUnit
from lims.studies.models import SampleType

SAMPLE_HOLDERS = GRID_KINDS + LOOSE_KINDS
PLACEABLE = ("collected", "received", "in_storage", "checked_out", "quarantined")
# A unit may be colder than a sample needs, never warmer than this many degrees.
WARMER_TOLERANCE_C = 10.0


# ----- rules ------------------------------------------------------------------------------------------
def effective_temp(chain: list[StorageUnit]) -> float | None:
    for unit in reversed(chain):
        if unit.set_temp_c is not None:
            return unit.set_temp_c
    return None


def _allowed(chain: list[StorageUnit]) -> set[str] | None:
    allowed: set[str] | None = None
    for unit in chain:
        if unit.allowed:
            allowed = unit.allowed if allowed is None else allowed & unit.allowed
    return allowed


def admits(chain: list[StorageUnit], sample_type: SampleType) -> str | None:
    """Return why the innermost unit of ``chain`` refuses ``sample_type``, or None."""
    for unit in chain:
        if unit.allowed and sample_type.code.upper() not in unit.allowed:
            return (f"{unit.name} takes only {', '.join(sorted(unit.allowed))}; "
                    f"{sample_type.name} ({sample_type.code}) does not belong there")
    return None


def _holder_refusal(unit: StorageUnit) -> str | None:
    if unit.kind not in SAMPLE_HOLDERS:
        return (f"{unit.name} ({unit.barcode}) is a {unit.kind.replace('_', ' ')}, not a container for "
                "tubes: scan a box, bag, bin or block cabinet")
    return None


def placement_refusal(session: Session, sample: Sample, unit: StorageUnit,
                      chain: list[StorageUnit] | None = None) -> str | None:
    """Return why ``sample`` may not go into ``unit`` at all (position aside), or None."""
    refusal = _holder_refusal(unit)
    if refusal:
        return refusal
    if sample.status not in PLACEABLE:
        if sample.status == "in_transit":
            return f"{sample.accession} is in transit: receive the shipment before storing it"
        return f"{sample.accession} is {sample.status.replace('_', ' ')} and cannot be stored"
    if sample.site_id != unit.site_id:
        return (f"{sample.accession} is at site {sample.site.code} but {unit.name} ({unit.barcode}) is at "
                f"site {unit.site.code}: ship it there first")
    chain = chain or unit_path(session, unit)
    refusal = admits(chain, sample.sample_type)
    if refusal:
        return f"wrong box type: {refusal}"
    temp = effective_temp(chain)
    need = sample.storage_temp_c
    if temp is not None and need is not None and temp > need + WARMER_TOLERANCE_C:
        return (f"{sample.accession} must be kept at {sample.storage_temp_c:g} °C but {unit.name} is stored "
                f"at {temp:g} °C")
    return None


def occupied(session: Session, unit: StorageUnit) -> dict[tuple[int, int], Sample]:
    """Return the samples in a box keyed by (row, col)."""
    rows = session.execute(
        select(Placement.row, Placement.col, Sample).join(Sample, Sample.id == Placement.sample_id)
        .where(Placement.unit_id == unit.id)
    ).all()
    return {(r, c): s for r, c, s in rows if r is not None and c is not None}


def next_free(session: Session, unit: StorageUnit,
              after: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """Return the first free position of a box in reading order (A1, A2, ... B1), or None when full."""
    assert unit.rows and unit.cols
    taken = {(r, c) for r, c in session.execute(
        select(Placement.row, Placement.col).where(Placement.unit_id == unit.id))}
    start = (after[0] - 1) * unit.cols + after[1] if after else 0
    for n in range(start, unit.rows * unit.cols):
        pos = (n // unit.cols + 1, n % unit.cols + 1)
        if pos not in taken:
            return pos
    return None


# ----- placing and moving samples ---------------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    """What a placement did, for the page and the API."""

    accession: str
    unit_id: int
    barcode: str
    position: str | None
    action: str  # "stored" or "moved"
    path: str


class PositionTaken(Conflict):
    """The position was taken by someone else between choosing it and writing it."""


NEXT_FREE_ATTEMPTS = 3


def place_sample(session: Session, sample: Sample, unit: StorageUnit, *, position: str | None = None,
                 by: User | None, expected_version: int | None = None, at: datetime | None = None) -> Placed:
    """Put ``sample`` into ``unit`` (at ``position``, or the next free one) and record the custody event.

    A sample not yet in storage is ``stored``; one already somewhere is ``moved`` (compare-and-set on
    its placement's version when ``expected_version`` is given). When the next free position is taken by
    someone storing into the same box at the same moment, the next one after it is tried.
    """
    for attempt in range(1, NEXT_FREE_ATTEMPTS + 1):
        try:
            return _place(session, sample, unit, position=position, by=by, expected_version=expected_version,
                          at=at)
        except PositionTaken:
            if (position and position.strip()) or attempt == NEXT_FREE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _place(session: Session, sample: Sample, unit: StorageUnit, *, position: str | None, by: User | None,
           expected_version: int | None, at: datetime | None) -> Placed:
    access.require_site(by, unit.site, f"storing in {unit.name} ({unit.barcode})")
    chain = unit_path(session, unit)
    refusal = placement_refusal(session, sample, unit, chain)
    if refusal:
        raise DomainError(refusal, field="code")
    typed = position if position and position.strip() else None
    current = session.get(Placement, sample.id)
    if current is not None and current.unit_id == unit.id and typed is None:
        raise Conflict(f"{sample.accession} is already in {unit.name} ({unit.barcode})"
                       + (f" at {current.position_label}" if current.position_label else "")
                       + "; type a position to move it within the box", field="code")
    row: int | None = None
    col: int | None = None
    if unit.kind in GRID_KINDS:
        row, col = _grid_cell(session, sample, unit, typed)
    else:
        _check_room(session, unit, typed)
    label = unit.label(row, col) if row is not None and col is not None else None
    action, before = _put(session, sample, unit, row, col, label, expected_version)
    if sample.status in ("collected", "received"):
        sample.status = "in_storage"
    where = unit.barcode + (f" {label}" if label else "")
    path = location_path(session, sample.id) or where
    record_event(session, sample.id, action, by=by, at=at, site_code=unit.site.code,
                 from_location=before, to_location=path, details={"unit": unit.barcode, "position": label})
    return Placed(sample.accession or "", unit.id, unit.barcode, label, action, path)


def _grid_cell(session: Session, sample: Sample, unit: StorageUnit, typed: str | None) -> tuple[int, int]:
    """Return the typed position of a box if it is free (or holds this sample), else the next free one."""
    if typed is not None:
        row, col = parse_position(unit, typed)
        holder = occupied(session, unit).get((row, col))
        if holder is not None and holder.id != sample.id:
            raise Conflict(f"position {unit.label(row, col)} of box {unit.barcode} is taken by "
                           f"{holder.accession}", field="position")
        return row, col
    free = next_free(session, unit)
    if free is None:
        positions = (unit.rows or 0) * (unit.cols or 0)
        raise Conflict(f"box {unit.barcode} is full ({positions} of {positions} positions)", field="code")
    return free


def _check_room(session: Session, unit: StorageUnit, typed: str | None) -> None:
    """Refuse a position in a unit without a grid, and a unit holding its capacity already."""
    if typed is not None:
        raise DomainError(f"{unit.name} has no grid positions; leave the position empty", field="position")
    if unit.capacity is not None:
        held = session.scalar(select(func.count()).select_from(Placement).where(Placement.unit_id == unit.id))
        if (held or 0) >= unit.capacity:
            raise Conflict(f"{unit.name} ({unit.barcode}) is full ({held} of {unit.capacity})", field="code")


def _put(session: Session, sample: Sample, unit: StorageUnit, row: int | None, col: int | None,
         label: str | None, expected_version: int | None) -> tuple[str, str | None]:
    """Write the sample's placement (a new one, or its current one moved); return the action and the
    location it left."""
    placement = session.get(Placement, sample.id)
    accession = sample.accession or ""
    if placement is None:
        new = Placement(sample_id=sample.id, unit_id=unit.id, row=row, col=col)
        _write_placement(session, accession, unit.barcode, label, lambda: session.add(new))
        return "stored", None
    if expected_version is not None and placement.version != expected_version:
        raise Conflict(f"{accession} was moved by someone else since you looked; scan it again", field="code")
    if placement.unit_id == unit.id and placement.row == row and placement.col == col:
        where = unit.barcode + (f" {label}" if label else "")
        raise Conflict(f"{accession} is already at {where}", field="code")
    before = location_path(session, sample.id)

    def move() -> None:
        placement.unit_id, placement.row, placement.col = unit.id, row, col
        session.expire(placement, ["unit"])
    _write_placement(session, accession, unit.barcode, label, move)
    return "moved", before


def _write_placement(session: Session, accession: str, barcode: str, label: str | None,
                     write: Callable[[], None]) -> None:
    """Change placements inside a savepoint and flush, turning the database's refusals into clear conflicts.

    The change is made inside the savepoint, so a refusal (unique position, stale version) rolls back
    only the savepoint and leaves the session usable for the error page.
    """
    try:
        with session.begin_nested():
            write()
            session.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if "row" in text or "uq_placement" in text:
            raise PositionTaken(f"position {label} of box {barcode} is taken", field="position") from None
        if "sample_id" in text or "pk_placement" in text:
            raise Conflict(f"{accession} was just stored by someone else; scan it again",
                           field="code") from None
        raise Conflict(f"{accession}: the change conflicts with data already stored") from None
    except StaleDataError:
        raise Conflict(f"{accession} was just moved by someone else; scan it again", field="code") from None


def place_by_scan(session: Session, unit: StorageUnit, code: str, *, position: str | None = None,
                  by: User | None, expected_version: int | None = None) -> Placed:
    """Resolve a scanned tube (accession normalised and check character verified), then place it."""
    sample = samples_service.get_by_accession(session, code)
    if by is not None:
        access.require_see(by, sample)
    return place_sample(session, sample, unit, position=position, by=by, expected_version=expected_version)


def remove_placement(session: Session, sample: Sample) -> str | None:
    """Take a sample out of storage (it left the building or was used up); return where it was."""
    placement = session.get(Placement, sample.id)
    if placement is None:
        return None
    where = location_path(session, sample.id)
    session.delete(placement)
    return where


