"""Storage look-ups: units by id or barcode, positions, location paths, subtrees, capacity and occupancy."""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from lims.core.errors import DomainError, NotFound
from lims.storage.models import GRID_KINDS, LOOSE_KINDS, Placement, StorageUnit
from lims.studies.models import Site

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
        raise DomainError(f"barcode {code} names units at several sites "
                          f"({', '.join(u.site.code for u in units)})",
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
                tails[sample_id] = str((row - 1) * cols
                                       + col) if scheme == "1" and cols else f"{chr(64 + row)}{col}"
        parts[sample_id].append(name)
    return {sid: SEP.join([*p, tail] if (tail := tails[sid]) else p) for sid, p in parts.items()}


def location_path(session: Session, sample_id: int) -> str | None:
    """Return where a sample is, e.g. 'ZJ › ZJ -80 °C freezer 1 › Rack 1 › Box 003 › C7' (one query)."""
    return location_paths(session, [sample_id]).get(sample_id)


@functools.cache
def _chain_statement() -> Select[Any]:
    up = select(StorageUnit.id, StorageUnit.parent_id, literal_column("0", Integer).label("depth")).where(
        StorageUnit.id == bindparam("unit_id")).cte("chain", recursive=True)
    parent = aliased(StorageUnit)
    up = up.union_all(select(parent.id, parent.parent_id, up.c.depth + 1)
                      .join(parent, parent.id == up.c.parent_id))
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
    """Return every unit (of one site, or all; ``where`` a clause on StorageUnit), ordered by site and
    name."""
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


