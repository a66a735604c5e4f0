"""Storage rules: where a sample may go, placing it by scan, moving units, paths, occupancy, retention.

Every function only flushes; the caller (a request, a CLI command, the demo) commits. Two people
placing into the same position race on the database's unique constraint ``uq_placement_unit_id_row_col``:
the loser gets :class:`Conflict`. Moves are compare-and-set on ``Placement.version`` and
``StorageUnit.version`` (SQLAlchemy's ``version_id_col``), so a move based on a stale view is refused.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Integer, Select, and_, bindparam, func, literal_column, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from lims import access
from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError, NotFound
from lims.custody.service import record_event
from lims.samples import service as samples_service
from lims.samples.models import Sample
from lims.storage.models import GRID_KINDS, KINDS, LEAF_KINDS, LOOSE_KINDS, Placement, StorageUnit
from lims.studies.models import SampleType, Site, Study

SAMPLE_HOLDERS = GRID_KINDS + LOOSE_KINDS
PLACEABLE = ("collected", "received", "in_storage", "checked_out", "quarantined")
# A unit may be colder than a sample needs, never warmer than this many degrees.
WARMER_TOLERANCE_C = 10.0
# A suggestion keeps a sample within this band below its storage temperature (no -80 plasma in LN2).
SUGGEST_COLDER_BAND_C = 30.0
_POSITION = re.compile(r"^([A-Za-z])\s*0*(\d{1,2})$")
SEP = " › "


# ----- looking things up ------------------------------------------------------------------------------
def get_unit(session: Session, unit_id: int) -> StorageUnit:
    """Return the storage unit with this id or raise NotFound."""
    unit = session.get(StorageUnit, unit_id)
    if unit is None:
        raise NotFound(f"no storage unit #{unit_id}")
    return unit


def get_unit_by_barcode(session: Session, barcode: str, *, site_codes: list[str] | None = None,
                        where: Any = None) -> StorageUnit:
    """Return the unit a scanned barcode names (case and whitespace forgiven), preferring the user's sites.

    ``where`` (a clause on StorageUnit, e.g. ``access.visible_units(user)``) hides the units a user may not
    see: they are answered like a barcode that names nothing.
    """
    code = (barcode or "").strip().upper()
    if not code:
        raise DomainError("scan or type a storage barcode", field="barcode")
    stmt = select(StorageUnit).where(func.upper(StorageUnit.barcode) == code)
    if where is not None:
        stmt = stmt.where(where)
    units = list(session.scalars(stmt))
    if not units:
        raise NotFound(f"no storage unit with barcode {code}", field="barcode")
    if len(units) > 1 and site_codes:
        mine = [u for u in units if u.site.code in site_codes]
        units = mine or units
    if len(units) > 1:
        raise DomainError(f"barcode {code} names units at several sites ({', '.join(u.site.code for u in units)})",
                          field="barcode")
    return units[0]


def parse_position(unit: StorageUnit, label: str) -> tuple[int, int]:
    """Turn a typed or scanned position ('B3', 'b03', or '12' in numbered boxes) into (row, col)."""
    text = (label or "").strip()
    if unit.kind not in GRID_KINDS or not unit.rows or not unit.cols:
        raise DomainError(f"{unit.name} has no grid positions; leave the position empty", field="position")
    if text.isdigit():
        n = int(text)
        if not 1 <= n <= unit.rows * unit.cols:
            raise DomainError(f"position {text} is outside {unit.name} (1 to {unit.rows * unit.cols})",
                              field="position")
        return (n - 1) // unit.cols + 1, (n - 1) % unit.cols + 1
    match = _POSITION.match(text)
    if match is None:
        raise DomainError(f"{text!r} is not a position: use a row letter and a column number such as B3",
                          field="position")
    row, col = ord(match.group(1).upper()) - ord("A") + 1, int(match.group(2))
    if row > unit.rows or not 1 <= col <= unit.cols:
        last = unit.label(unit.rows, unit.cols)
        raise DomainError(f"position {text.upper()} is outside {unit.name} (A1 to {last})", field="position")
    return row, col


# ----- paths ------------------------------------------------------------------------------------------
@functools.cache
def _paths_statement() -> Select[Any]:
    """Build the recursive path query once: constructing a CTE costs more than running it."""
    up = (
        select(Placement.sample_id.label("sample_id"), StorageUnit.id.label("unit_id"),
               StorageUnit.parent_id.label("parent_id"), StorageUnit.name.label("name"),
               literal_column("0", Integer).label("depth"))
        .join(StorageUnit, StorageUnit.id == Placement.unit_id)
        .where(Placement.sample_id.in_(bindparam("sample_ids", expanding=True)))
        .cte("up", recursive=True)
    )
    parent = aliased(StorageUnit)
    up = up.union_all(
        select(up.c.sample_id, parent.id, parent.parent_id, parent.name, up.c.depth + 1)
        .join(parent, parent.id == up.c.parent_id)
    )
    box = aliased(StorageUnit)
    return (
        select(up.c.sample_id, up.c.name, up.c.depth, Site.code, Placement.row, Placement.col,
               box.label_scheme, box.cols)
        .join(Placement, Placement.sample_id == up.c.sample_id)
        .join(box, box.id == Placement.unit_id)
        .join(Site, Site.id == box.site_id)
        .order_by(up.c.sample_id, up.c.depth.desc())
    )


def location_paths(session: Session, sample_ids: list[int]) -> dict[int, str]:
    """Return the full location path of each placed sample, all in one recursive query."""
    if not sample_ids:
        return {}
    rows = session.execute(_paths_statement(), {"sample_ids": list(sample_ids)}).all()
    parts: dict[int, list[str]] = defaultdict(list)
    tails: dict[int, str | None] = {}
    for sample_id, name, _depth, site_code, row, col, scheme, cols in rows:
        if sample_id not in parts:
            parts[sample_id].append(site_code)
            tails[sample_id] = None
            if row is not None and col is not None:
                tails[sample_id] = str((row - 1) * cols + col) if scheme == "1" and cols else f"{chr(64 + row)}{col}"
        parts[sample_id].append(name)
    return {sid: SEP.join(p + ([tails[sid]] if tails[sid] else [])) for sid, p in parts.items()}


def location_path(session: Session, sample_id: int) -> str | None:
    """Return where a sample is, e.g. 'ZJ › ZJ -80 °C freezer 1 › Rack 1 › Box 003 › C7' (one query)."""
    return location_paths(session, [sample_id]).get(sample_id)


@functools.cache
def _chain_statement() -> Select[Any]:
    up = select(StorageUnit.id, StorageUnit.parent_id, literal_column("0", Integer).label("depth")).where(
        StorageUnit.id == bindparam("unit_id")).cte("chain", recursive=True)
    parent = aliased(StorageUnit)
    up = up.union_all(select(parent.id, parent.parent_id, up.c.depth + 1).join(parent, parent.id == up.c.parent_id))
    return select(up.c.id).order_by(up.c.depth.desc())


def unit_path(session: Session, unit: StorageUnit) -> list[StorageUnit]:
    """Return the unit's ancestors and the unit itself, outermost first (one query, then the identity map)."""
    ids = list(session.scalars(_chain_statement(), {"unit_id": unit.id}))
    units = {u.id: u for u in session.scalars(select(StorageUnit).where(StorageUnit.id.in_(ids)))}
    return [units[i] for i in ids]


def unit_label(session: Session, unit: StorageUnit) -> str:
    """Return a unit's path as text, e.g. 'ZJ › ZJ -80 °C freezer 1 › Rack 1'."""
    return SEP.join([unit.site.code, *(u.name for u in unit_path(session, unit))])


@functools.cache
def _subtree_statement() -> Select[Any]:
    down = select(StorageUnit.id).where(StorageUnit.id == bindparam("unit_id")).cte("down", recursive=True)
    child = aliased(StorageUnit)
    down = down.union_all(select(child.id).join(down, child.parent_id == down.c.id))
    return select(down.c.id)


def descendant_ids(session: Session, unit_id: int) -> list[int]:
    """Return the ids of a unit and everything inside it (one recursive query)."""
    return list(session.scalars(_subtree_statement(), {"unit_id": unit_id}))


# ----- capacity and occupancy -------------------------------------------------------------------------
@dataclass
class Usage:
    """How many samples a unit (and everything inside it) can hold and holds now."""

    capacity: int = 0
    used: int = 0
    unbounded: bool = False

    @property
    def free(self) -> int | None:
        return None if self.unbounded else max(self.capacity - self.used, 0)

    @property
    def percent(self) -> int | None:
        if self.unbounded or not self.capacity:
            return None
        return round(100 * self.used / self.capacity)


def site_units(session: Session, site_id: int | None = None, *, where: Any = None) -> list[StorageUnit]:
    """Return every unit (of one site, or all; ``where`` a clause on StorageUnit), ordered by site and name."""
    stmt = select(StorageUnit).order_by(StorageUnit.site_id, StorageUnit.name)
    if site_id is not None:
        stmt = stmt.where(StorageUnit.site_id == site_id)
    if where is not None:
        stmt = stmt.where(where)
    return list(session.scalars(stmt))


def usage(session: Session, units: list[StorageUnit]) -> dict[int, Usage]:
    """Roll capacity and occupancy up the tree for ``units`` (a whole site's units: two queries)."""
    ids = [u.id for u in units]
    counts = dict(session.execute(
        select(Placement.unit_id, func.count()).where(Placement.unit_id.in_(ids)).group_by(Placement.unit_id)
    ).all()) if ids else {}
    result = {u.id: Usage(capacity=u.slots or 0, used=counts.get(u.id, 0),
                          unbounded=u.kind in LOOSE_KINDS and u.slots is None) for u in units}
    by_id = {u.id: u for u in units}
    depth: dict[int, int] = {}

    def _depth(u: StorageUnit) -> int:
        if u.id not in depth:
            depth[u.id] = 0 if u.parent_id not in by_id else _depth(by_id[u.parent_id]) + 1
        return depth[u.id]

    for u in sorted(units, key=_depth, reverse=True):
        if u.parent_id in result:
            parent = result[u.parent_id]
            child = result[u.id]
            parent.capacity += child.capacity
            parent.used += child.used
            parent.unbounded = parent.unbounded or child.unbounded
    return result


def unit_usage(session: Session, unit: StorageUnit) -> Usage:
    """Return one unit's capacity and occupancy including everything inside it."""
    ids = descendant_ids(session, unit.id)
    units = list(session.scalars(select(StorageUnit).where(StorageUnit.id.in_(ids))))
    return usage(session, units)[unit.id]


# ----- rules ------------------------------------------------------------------------------------------
def _effective_temp(chain: list[StorageUnit]) -> float | None:
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
        return (f"{unit.name} ({unit.barcode}) is a {unit.kind.replace('_', ' ')}, not a container for tubes: "
                "scan a box, bag, bin or block cabinet")
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
        return (f"{sample.accession} is at site {sample.site.code} but {unit.name} ({unit.barcode}) is at site "
                f"{unit.site.code}: ship it there first")
    chain = chain or unit_path(session, unit)
    refusal = admits(chain, sample.sample_type)
    if refusal:
        return f"wrong box type: {refusal}"
    temp = _effective_temp(chain)
    if temp is not None and sample.storage_temp_c is not None and temp > sample.storage_temp_c + WARMER_TOLERANCE_C:
        return (f"{sample.accession} must be kept at {sample.storage_temp_c:g} °C but {unit.name} is stored at "
                f"{temp:g} °C")
    return None


def occupied(session: Session, unit: StorageUnit) -> dict[tuple[int, int], Sample]:
    """Return the samples in a box keyed by (row, col)."""
    rows = session.execute(
        select(Placement.row, Placement.col, Sample).join(Sample, Sample.id == Placement.sample_id)
        .where(Placement.unit_id == unit.id)
    ).all()
    return {(r, c): s for r, c, s in rows if r is not None}


def next_free(session: Session, unit: StorageUnit, after: tuple[int, int] | None = None) -> tuple[int, int] | None:
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
    row = col = None
    current = session.get(Placement, sample.id)
    if current is not None and current.unit_id == unit.id and not (position and position.strip()):
        raise Conflict(f"{sample.accession} is already in {unit.name} ({unit.barcode})"
                       + (f" at {current.position_label}" if current.position_label else "")
                       + "; type a position to move it within the box", field="code")
    if unit.kind in GRID_KINDS:
        if position and position.strip():
            row, col = parse_position(unit, position)
            holder = occupied(session, unit).get((row, col))
            if holder is not None and holder.id != sample.id:
                raise Conflict(f"position {unit.label(row, col)} of box {unit.barcode} is taken by "
                               f"{holder.accession}", field="position")
        else:
            free = next_free(session, unit)
            if free is None:
                raise Conflict(f"box {unit.barcode} is full ({unit.rows * unit.cols} of "
                               f"{unit.rows * unit.cols} positions)", field="code")
            row, col = free
    else:
        if position and position.strip():
            raise DomainError(f"{unit.name} has no grid positions; leave the position empty", field="position")
        if unit.capacity is not None:
            held = session.scalar(select(func.count()).select_from(Placement).where(Placement.unit_id == unit.id))
            if (held or 0) >= unit.capacity:
                raise Conflict(f"{unit.name} ({unit.barcode}) is full ({held} of {unit.capacity})", field="code")
    label = unit.label(row, col) if row is not None and col is not None else None
    placement = session.get(Placement, sample.id)
    where = unit.barcode + (f" {label}" if label else "")
    accession = sample.accession or ""
    if placement is not None:
        if expected_version is not None and placement.version != expected_version:
            raise Conflict(f"{accession} was moved by someone else since you looked; scan it again", field="code")
        if placement.unit_id == unit.id and placement.row == row and placement.col == col:
            raise Conflict(f"{accession} is already at {where}", field="code")
        before = location_path(session, sample.id)
        existing = placement

        def write() -> None:
            existing.unit_id, existing.row, existing.col = unit.id, row, col
            session.expire(existing, ["unit"])
        action = "moved"
    else:
        before = None

        def write() -> None:
            session.add(Placement(sample_id=sample.id, unit_id=unit.id, row=row, col=col))
        action = "stored"
    _write_placement(session, accession, unit.barcode, label, write)
    if sample.status in ("collected", "received"):
        sample.status = "in_storage"
    path = location_path(session, sample.id) or where
    record_event(session, sample.id, action, by=by, at=at, site_code=unit.site.code,
                 from_location=before, to_location=path, details={"unit": unit.barcode, "position": label})
    return Placed(sample.accession or "", unit.id, unit.barcode, label, action, path)


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
            raise Conflict(f"{accession} was just stored by someone else; scan it again", field="code") from None
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
        raise DomainError("label scheme must be 'A1' (row letter + column) or '1' (numbered)", field="label_scheme")
    if parent is not None:
        if parent.site_id != site.id:
            raise DomainError(f"{parent.name} is at site {parent.site.code}, not {site.code}", field="parent")
        if parent.kind in LEAF_KINDS:
            raise DomainError(f"{parent.name} is a {parent.kind} and holds tubes, not other units", field="parent")
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
    """Move a box or rack (with everything inside) under ``new_parent``; every sample inside gets a ``moved`` event.

    Returns how many samples moved.
    """
    access.require_site(by, unit.site, f"moving {unit.name} ({unit.barcode})")
    access.require_site(by, new_parent.site, f"moving into {new_parent.name} ({new_parent.barcode})")
    if new_parent.id == unit.id:
        raise DomainError(f"cannot move {unit.name} ({unit.barcode}) into itself", field="parent")
    inside = descendant_ids(session, unit.id)
    if new_parent.id in inside:
        raise DomainError(f"cannot move {unit.name} ({unit.barcode}) into {new_parent.name} ({new_parent.barcode}): "
                          f"{new_parent.name} is inside {unit.name}", field="parent")
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


# ----- suggestions ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    """Where a sample should go and why."""

    unit: StorageUnit
    row: int | None
    col: int | None
    reason: str

    @property
    def position(self) -> str | None:
        return self.unit.label(self.row, self.col) if self.row is not None and self.col is not None else None


def suggest_location(session: Session, sample: Sample) -> Suggestion | None:
    """Suggest a place at the sample's site by rule.

    1. next to samples of the same participant and time point (a box that already holds them);
    2. else the fullest box already holding this sample type (fill boxes before opening new ones);
    3. else any empty compatible container.
    Every candidate admits the sample type (along its whole path) and keeps it at its temperature.
    """
    units = list(session.scalars(select(StorageUnit).where(StorageUnit.site_id == sample.site_id)))
    by_id = {u.id: u for u in units}

    def chain(u: StorageUnit) -> list[StorageUnit]:
        out = [u]
        while out[-1].parent_id in by_id:
            out.append(by_id[out[-1].parent_id])
        return list(reversed(out))

    use = usage(session, units)

    def fits(u: StorageUnit) -> bool:
        if u.kind not in SAMPLE_HOLDERS or (use[u.id].free == 0):
            return False
        c = chain(u)
        if admits(c, sample.sample_type):
            return False
        temp, need = _effective_temp(c), sample.storage_temp_c
        if temp is not None and need is not None and not (
                need - SUGGEST_COLDER_BAND_C <= temp <= need + WARMER_TOLERANCE_C):
            return False
        return not (sample.storage_container == "PARAFFIN" and u.kind in GRID_KINDS)

    def at(u: StorageUnit, reason: str, after: tuple[int, int] | None = None) -> Suggestion | None:
        if u.kind not in GRID_KINDS:
            return Suggestion(u, None, None, reason)
        pos = next_free(session, u, after) or next_free(session, u)
        return Suggestion(u, pos[0], pos[1], reason) if pos else None

    if sample.visit_id is not None:
        together = session.execute(
            select(Placement.unit_id, func.max(Placement.row * 100 + Placement.col))
            .join(Sample, Sample.id == Placement.sample_id)
            .where(Sample.participant_id == sample.participant_id, Sample.visit_id == sample.visit_id,
                   Sample.id != sample.id)
            .group_by(Placement.unit_id)
        ).all()
        for unit_id, last in together:
            u = by_id.get(unit_id)
            if u is not None and fits(u):
                after = (last // 100, last % 100) if last else None
                found = at(u, f"with the other samples of {sample.participant.code} at this time point", after)
                if found:
                    return found
    same_type = session.execute(
        select(Placement.unit_id, func.count()).join(Sample, Sample.id == Placement.sample_id)
        .where(Sample.sample_type_id == sample.sample_type_id).group_by(Placement.unit_id)
    ).all()
    for unit_id, _n in sorted(same_type, key=lambda r: -use[r[0]].used if r[0] in use else 0):
        u = by_id.get(unit_id)
        if u is not None and fits(u):
            found = at(u, f"the fullest container already holding {sample.sample_type.name}")
            if found:
                return found
    for u in sorted(units, key=lambda u: (use[u.id].used > 0, u.name)):
        if fits(u):
            found = at(u, "an empty container that admits this sample type at its temperature")
            if found:
                return found
    return None


# ----- box map ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One position of a box map."""

    row: int
    col: int
    label: str
    sample: Sample | None


def box_map(session: Session, unit: StorageUnit) -> list[list[Cell]]:
    """Return the box's grid row by row, with the sample at each position (None = empty)."""
    if unit.kind not in GRID_KINDS or not unit.rows or not unit.cols:
        raise DomainError(f"{unit.name} is not a box with a grid")
    taken = occupied(session, unit)
    return [[Cell(r, c, unit.label(r, c), taken.get((r, c))) for c in range(1, unit.cols + 1)]
            for r in range(1, unit.rows + 1)]


def loose_samples(session: Session, unit: StorageUnit) -> list[Sample]:
    """Return the samples kept loose in a non-grid container."""
    return list(session.scalars(
        select(Sample).join(Placement, Placement.sample_id == Sample.id).where(Placement.unit_id == unit.id)
        .order_by(Sample.accession)
    ))


# ----- retention --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionRow:
    """A sample kept longer than its type's retention period."""

    sample: Sample
    years: int
    due_on: date
    location: str | None


def retention_due(session: Session, study: Study, *, on: date, limit: int | None = None,
                  where: Any = None) -> list[RetentionRow]:
    """List samples still kept whose collection is more than the type's retention period before ``on``.

    ``where`` (a clause on Sample) limits the list, e.g. to the samples a user may see.
    """
    years_by_code: dict[str, Any] = dict(study.settings.get("retention_years") or {})
    zone = access.study_zone(study)  # retention counts the study's calendar days
    types = {t.code: t for t in study.sample_types}
    conditions = []
    for code, years in years_by_code.items():
        if code in types and years:
            cutoff = datetime.combine(_years_before(on, int(years)), time(0), tzinfo=zone)
            conditions.append(and_(Sample.sample_type_id == types[code].id, Sample.collected_at < cutoff))
    if not conditions:
        return []
    stmt = (select(Sample).where(Sample.study_id == study.id, Sample.status.in_(
        ("collected", "received", "in_storage", "checked_out", "quarantined")), or_(*conditions))
        .order_by(Sample.collected_at, Sample.id))
    if where is not None:
        stmt = stmt.where(where)
    if limit:
        stmt = stmt.limit(limit)
    samples = list(session.scalars(stmt))
    paths = location_paths(session, [s.id for s in samples])
    rows = []
    for s in samples:
        years = int(years_by_code[s.sample_type.code])
        assert s.collected_at is not None
        rows.append(RetentionRow(s, years, _years_after(access.local_date(s.collected_at, zone), years),
                                 paths.get(s.id)))
    return rows


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _years_after(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)
