"""Compare a rack reader's scan with a box map, and apply the reviewed result all or nothing.

Every position of the box gets one line: ``match`` (the tube the map expects), ``moved`` (a known tube the
map has elsewhere, or nowhere), ``unknown`` (a code that names no sample at the user's sites), ``no_read``
(the reader could not decode the tube), ``empty``; and every tube the map has in the box that the scan did
not find anywhere is ``missing``. Applying writes the moves only (one custody event per tube); it is refused
when the scan changed since it was reviewed (a fingerprint of the file and the box map), or when a move would
land on a position the map still gives a missing tube, or on a tube the rules do not allow there.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import access
from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError
from lims.samples import accession as accession_ids
from lims.samples.models import Sample
from lims.storage import service
from lims.storage.bulk import Move, apply_moves, move_refusal
from lims.storage.models import GRID_KINDS, StorageUnit
from lims.storage.rackfiles import RackFile, RackFileError, parse_rack_file

STATES = ("match", "moved", "missing", "unknown", "no_read", "empty")


@dataclass
class RackLine:
    """One position (or one missing tube) of the comparison."""

    position: str
    row: int
    col: int
    state: str
    scanned: str | None = None
    expected: str | None = None
    sample: Sample | None = None
    note: str = ""
    line: int | None = None


@dataclass
class RackDiff:
    """A scan compared with a box map: the lines, their counts, what applying would do and what blocks it."""

    unit: StorageUnit
    rack: RackFile
    lines: list[RackLine]
    fingerprint: str
    moves: list[Move] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(line.state for line in self.lines)
        return {state: found.get(state, 0) for state in STATES}


def read_rack(unit: StorageUnit, data: bytes, *, numbering: str = "row") -> RackFile:
    """Read a rack file for ``unit``'s grid; a file for another geometry is refused with the line."""
    if unit.kind not in GRID_KINDS or not unit.rows or not unit.cols:
        raise DomainError(f"{unit.name} is not a box with a grid: a rack scan needs one", field="unit")
    try:
        return parse_rack_file(data, rows=unit.rows, cols=unit.cols, numbering=numbering)
    except RackFileError as exc:
        raise DomainError(f"the rack file cannot be read: {exc}", field="file") from None


def _fingerprint(data: bytes, numbering: str, held: dict[tuple[int, int], Sample]) -> str:
    digest = hashlib.sha256(data)
    digest.update(numbering.encode())
    for (r, c), sample in sorted(held.items()):
        digest.update(f"|{r},{c}={sample.id}".encode())
    return digest.hexdigest()


def _resolve(session: Session, user: User | None, codes: list[str]) -> dict[str, tuple[Sample | None, str]]:
    """Map each scanned code to its sample (or None with the reason it is unknown)."""
    valid: dict[str, str] = {}
    out: dict[str, tuple[Sample | None, str]] = {}
    for code in codes:
        try:
            valid[code] = accession_ids.validate(code)
        except accession_ids.AccessionError as exc:
            out[code] = (None, f"not a Trialbank ID: {exc}")
    found = {s.accession: s
             for s in session.scalars(select(Sample).where(Sample.accession.in_(set(valid.values()))))}
    for code, accession in valid.items():
        sample = found.get(accession)
        if sample is None or not access.may_see(user, sample):
            out[code] = (None, "no such sample at your sites")
        else:
            out[code] = (sample, "")
    return out


def compare(session: Session, unit: StorageUnit, data: bytes, *, user: User | None,
            numbering: str = "row") -> RackDiff:
    """Compare a rack file with ``unit``'s box map, line by line, and plan (not apply) the moves."""
    rack = read_rack(unit, data, numbering=numbering)
    held = service.occupied(session, unit)
    resolved = _resolve(session, user, list(rack.tubes))
    scanned_ids = {s.id for s, _ in resolved.values() if s is not None}
    paths = service.location_paths(session, list(scanned_ids))
    lines: list[RackLine] = []
    assert unit.rows and unit.cols
    for r in range(1, unit.rows + 1):
        for c in range(1, unit.cols + 1):
            lines.append(_line(unit, r, c, rack, held.get((r, c)), resolved, scanned_ids, paths))
    for (r, c), expected in sorted(held.items()):
        cell = rack.cells.get((r, c))
        # A position read as another tube: the expected one is missing besides (an empty one says so itself).
        if expected.id not in scanned_ids and cell is not None and cell.state == "tube":
            lines.append(RackLine(unit.label(r, c), r, c, "missing", expected=expected.accession,
                                  sample=expected,
                                  note="in the box map here, but the scan read it nowhere"))
    diff = RackDiff(unit, rack, lines, _fingerprint(data, numbering, held))
    _plan(session, user, diff)
    return diff


def _line(unit: StorageUnit, r: int, c: int, rack: RackFile, expected: Sample | None,
          resolved: dict[str, tuple[Sample | None, str]], scanned_ids: set[int],
          paths: dict[int, str]) -> RackLine:
    label = unit.label(r, c)
    cell = rack.cells.get((r, c))
    exp = expected.accession if expected is not None else None
    if cell is None or cell.state == "empty":
        line = cell.line if cell else None
        if expected is None:
            return RackLine(label, r, c, "empty", line=line)
        if expected.id in scanned_ids:
            return RackLine(label, r, c, "empty", expected=exp, note=f"{exp} was read elsewhere in the rack",
                            line=line)
        return RackLine(label, r, c, "missing", expected=exp, sample=expected,
                        note="in the box map here, but the scan read it nowhere", line=line)
    if cell.state == "no_read":
        note = f"the reader could not decode this tube{f'; the map expects {exp}' if exp else ''}"
        return RackLine(label, r, c, "no_read", expected=exp, note=note, line=cell.line)
    assert cell.code is not None
    sample, why = resolved[cell.code]
    if sample is None:
        return RackLine(label, r, c, "unknown", scanned=cell.code, expected=exp, note=why, line=cell.line)
    if expected is not None and expected.id == sample.id:
        return RackLine(label, r, c, "match", scanned=cell.code, expected=exp, sample=sample, line=cell.line)
    where = paths.get(sample.id) or "not in storage"
    return RackLine(label, r, c, "moved", scanned=sample.accession, expected=exp, sample=sample,
                    note=f"the map has it at {where}", line=cell.line)


def _plan(session: Session, user: User | None, diff: RackDiff) -> None:
    missing_at = {(line.row, line.col): line for line in diff.lines if line.state == "missing"}
    chains: dict[int, list[StorageUnit]] = {}
    for line in diff.lines:
        if line.state == "unknown" and line.expected:
            diff.blockers.append(f"{line.position}: the map expects {line.expected} but the reader read "
                                 f"{line.scanned!r} ({line.note})")
        if line.state != "moved" or line.sample is None:
            continue
        blocker = missing_at.get((line.row, line.col))
        if blocker is not None:
            diff.blockers.append(f"{line.position}: {line.scanned} was read where the map still has "
                                 f"{blocker.expected}, which the scan found nowhere; find it or take it out "
                                 "first")
            continue
        move = Move(line.sample, diff.unit, line.row, line.col)
        refusal = move_refusal(session, user, move, chains)
        if refusal:
            diff.blockers.append(f"{line.position}: {line.scanned}: {refusal}")
            continue
        diff.moves.append(move)


def apply_scan(session: Session, unit: StorageUnit, data: bytes, *, user: User | None, fingerprint: str,
               numbering: str = "row") -> RackDiff:
    """Apply a reviewed scan: every move or none, one custody event per tube; refuse if anything changed."""
    access.require_site(user, unit.site, f"storing in {unit.name} ({unit.barcode})")
    diff = compare(session, unit, data, user=user, numbering=numbering)
    if diff.fingerprint != fingerprint:
        raise Conflict("the box or the file changed since the scan was reviewed: review the comparison again",
                       field="fingerprint")
    if diff.blockers:
        raise Conflict("nothing was changed: " + "; ".join(diff.blockers), field="file")
    label = ("rack scan "
             f"({diff.rack.vendor}{', rack ' + diff.rack.rack_barcode if diff.rack.rack_barcode else ''})")
    apply_moves(session, diff.moves, by=user, reason=label)
    return diff
