"""Move many tubes at once, all or nothing: bulk placement from a CSV file, and what a reviewed rack scan
applies.

Every tube is checked first with the same rules as a single scan
(:func:`lims.storage.service.placement_refusal`); the positions are then written in two steps inside one
savepoint, so that tubes may swap places within a box without tripping over the one-tube-per-position
constraint; each tube gets one custody event (``stored`` or
``moved``). A refusal names the line, the field, the value and the reason; nothing is written then.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lims import access
from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError, NotFound
from lims.custody.service import record_event
from lims.samples import accession as accession_ids
from lims.samples.models import Sample
from lims.storage import service
from lims.storage.models import GRID_KINDS, Placement, StorageUnit

MAX_ROWS = 5000


@dataclass(frozen=True)
class Move:
    """Put ``sample`` into ``unit`` at (row, col) (None for loose containers)."""

    sample: Sample
    unit: StorageUnit
    row: int | None
    col: int | None

    @property
    def label(self) -> str | None:
        return self.unit.label(self.row, self.col) if self.row is not None and self.col is not None else None


class BulkRefused(DomainError):
    """Some lines of a bulk file cannot be applied; ``problems`` lists (line, field, value, reason)."""

    status = 422

    def __init__(self, problems: list[tuple[int | None, str, str, str]]) -> None:
        shown = "; ".join(f"{'line ' + str(n) if n else 'file'}, {f} {v!r}: {r}"
                          for n, f, v, r in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"nothing was placed; {len(problems)} problem(s): {shown}{more}", field="file")
        self.problems = {f"line {n}" if n else "file": f"{f} {v!r}: {r}" for n, f, v, r in problems}
        self.rows = problems


def apply_moves(session: Session, moves: list[Move], *, by: User | None, reason: str | None = None) -> int:
    """Write ``moves`` (already checked) in one savepoint with one custody event per tube; return how many."""
    if not moves:
        return 0
    ids = [m.sample.id for m in moves]
    before = service.location_paths(session, ids)
    current = {p.sample_id: p for p in session.scalars(select(Placement).where(Placement.sample_id.in_(ids)))}
    try:
        with session.begin_nested():
            # Step 1: lift the moving tubes off their grid positions, so swaps and shifts cannot collide.
            for move in moves:
                placement = current.get(move.sample.id)
                if placement is not None and placement.row is not None:
                    placement.row = placement.col = None
            session.flush()
            for move in moves:
                placement = current.get(move.sample.id)
                if placement is None:
                    session.add(Placement(sample_id=move.sample.id, unit_id=move.unit.id, row=move.row,
                                          col=move.col))
                else:
                    placement.unit_id, placement.row, placement.col = move.unit.id, move.row, move.col
            session.flush()
    except IntegrityError:
        raise Conflict(
            "a position was taken by someone else meanwhile; nothing was placed, try again") from None
    except StaleDataError:
        raise Conflict("a tube was moved by someone else meanwhile; nothing was placed, try again") from None
    for placement in current.values():
        session.expire(placement, ["unit"])
    after = service.location_paths(session, ids)
    for move in moves:
        action = "moved" if move.sample.id in current else "stored"
        if move.sample.status in ("collected", "received"):
            move.sample.status = "in_storage"
        record_event(session, move.sample.id, action, by=by, site_code=move.unit.site.code, reason=reason,
                     from_location=before.get(move.sample.id), to_location=after.get(move.sample.id),
                     details={"unit": move.unit.barcode, "position": move.label})
    session.flush()
    return len(moves)


def move_refusal(session: Session, user: User | None, move: Move,
                 chains: dict[int, list[StorageUnit]]) -> str | None:
    """Return why ``move`` may not be made by ``user`` (scope, status, site, type, temperature), or None."""
    if not access.may_act(user, "storage.manage", move.sample) or not access.may_act(user, "storage.manage",
                                                                                      move.unit):
        return "not at your sites"
    chain = chains.setdefault(move.unit.id, service.unit_path(session, move.unit))
    return service.placement_refusal(session, move.sample, move.unit, chain)


# ----- bulk placement from a CSV ----------------------------------------------------------------------
_COLUMNS = {"accession": ("accession", "sample", "tube", "id", "accessionid"),
            "box": ("box", "unit", "barcode", "boxbarcode", "container"),
            "position": ("position", "pos", "well", "slot")}


def _header(row: list[str]) -> dict[str, int]:
    keys = ["".join(ch for ch in h.lower() if ch.isalnum()) for h in row]
    found = {}
    for name, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in keys:
                found[name] = keys.index(alias)
                break
    missing = [n for n in ("accession", "box") if n not in found]
    if missing:
        reason = f"no {' or '.join(missing)} column; expected a header 'accession,box,position'"
        raise BulkRefused([(1, "header", ",".join(row), reason)])
    return found


def _read(data: bytes) -> list[tuple[int, list[str]]]:
    if b"\x00" in data or len(data) > 2_000_000:
        raise BulkRefused([(None, "file", "", "not a CSV text file of at most 2 MB")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BulkRefused([(None, "file", "", "not UTF-8 text: save the CSV as UTF-8")]) from None
    sample = "\n".join(text.splitlines()[:10])
    delimiter = max((",", ";", "\t"), key=sample.count) if sample else ","
    try:
        rows = [(n, [f.strip() for f in r])
                for n, r in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter),
                                                                   start=1) if any(f.strip() for f in r)]
    except csv.Error as exc:
        raise BulkRefused([(None, "file", "", f"not a CSV file: {exc}")]) from None
    if len(rows) < 2:
        raise BulkRefused([(None, "file", "", "no rows below the header")])
    if len(rows) > MAX_ROWS + 1:
        raise BulkRefused([(None, "file", "", f"{len(rows) - 1} rows; at most {MAX_ROWS} per file")])
    return rows


def plan_bulk(session: Session, data: bytes, *, by: User | None) -> list[Move]:
    """Read a placement CSV (accession, box, position) and return the checked moves; raise with every
    problem."""
    rows = _read(data)
    cols = _header(rows[0][1])
    problems: list[tuple[int | None, str, str, str]] = []
    wanted: list[tuple[int, Sample, StorageUnit, str]] = []
    units: dict[str, StorageUnit] = {}
    for line, fields in rows[1:]:
        def value(name: str, fields: list[str] = fields) -> str:
            i = cols.get(name)
            return fields[i] if i is not None and i < len(fields) else ""
        raw, box_code, position = value("accession"), value("box"), value("position")
        try:
            code = accession_ids.validate(raw)
        except accession_ids.AccessionError as exc:
            problems.append((line, "accession", raw, str(exc)))
            continue
        sample = session.scalar(select(Sample).where(Sample.accession == code))
        if sample is None or not access.may_see(by, sample):
            problems.append((line, "accession", raw, "no such sample at your sites"))
            continue
        unit = units.get(box_code.upper())
        if unit is None:
            try:
                unit = service.get_unit_by_barcode(session, box_code,
                                                   site_codes=getattr(by, "site_codes", None))
            except (NotFound, DomainError) as exc:
                problems.append((line, "box", box_code, exc.message))
                continue
            if not access.may_see(by, unit):
                problems.append((line, "box", box_code, "no such box at your sites"))
                continue
            units[box_code.upper()] = unit
        wanted.append((line, sample, unit, position))
    moves = _positions(session, wanted, problems, by)
    if problems:
        raise BulkRefused(sorted(problems, key=lambda p: p[0] or 0))
    return moves


def _positions(session: Session, wanted: list[tuple[int, Sample, StorageUnit, str]],
               problems: list[tuple[int | None, str, str, str]], by: User | None) -> list[Move]:
    """Turn typed positions (or none: the next free one) into moves, checking every clash within the file."""
    repeated = Counter(s.id for _, s, _, _ in wanted)
    moving = {s.id for _, s, _, _ in wanted}
    claimed: dict[tuple[int, int, int], int] = {}
    moves: list[Move] = []
    chains: dict[int, list[StorageUnit]] = {}
    occupied: dict[int, dict[tuple[int, int], Sample]] = {}
    for line, sample, unit, position in wanted:
        if repeated[sample.id] > 1:
            problems.append((line, "accession", sample.accession or "", "listed more than once in the file"))
            continue
        row = col = None
        if unit.kind in GRID_KINDS:
            held = occupied.setdefault(unit.id, service.occupied(session, unit))
            try:
                row, col = (service.parse_position(unit, position) if position
                            else _free(unit, held, moving, claimed))
            except DomainError as exc:
                problems.append((line, "position", position, exc.message))
                continue
            holder = held.get((row, col))
            if holder is not None and holder.id not in moving:
                problems.append((line, "position", unit.label(row, col),
                                 f"taken by {holder.accession}, which this file does not move"))
                continue
            if (unit.id, row, col) in claimed:
                problems.append((line, "position", unit.label(row, col),
                                 f"also given on line {claimed[(unit.id, row, col)]}"))
                continue
            claimed[(unit.id, row, col)] = line
        elif position:
            problems.append((line, "position", position,
                             f"{unit.name} has no grid positions; leave it empty"))
            continue
        move = Move(sample, unit, row, col)
        refusal = move_refusal(session, by, move, chains)
        if refusal:
            problems.append((line, "accession", sample.accession or "", refusal))
            continue
        moves.append(move)
    return moves


def _free(unit: StorageUnit, held: dict[tuple[int, int], Sample], moving: set[int],
          claimed: dict[tuple[int, int, int], int]) -> tuple[int, int]:
    assert unit.rows and unit.cols
    for n in range(unit.rows * unit.cols):
        pos = (n // unit.cols + 1, n % unit.cols + 1)
        holder = held.get(pos)
        if (holder is None or holder.id in moving) and (unit.id, *pos) not in claimed:
            return pos
    raise DomainError(f"box {unit.barcode} is full", field="position")


def place_from_csv(session: Session, data: bytes, *, by: User | None) -> int:
    """Place every tube a CSV lists (accession, box, position), all or nothing; return how many were
    placed."""
    moves = plan_bulk(session, data, by=by)
    return apply_moves(session, moves, by=by, reason="bulk placement from a file")


def summary(moves: list[Move]) -> dict[str, Any]:
    """Count the moves per box, for the page."""
    return dict(Counter(m.unit.barcode for m in moves))
