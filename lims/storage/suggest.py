"""Where a sample should go: a suggested free position, and the map of a box."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.core.errors import DomainError
from lims.samples.models import Sample
from lims.storage.locations import usage
from lims.storage.models import GRID_KINDS, Placement, StorageUnit
from lims.storage.placement import (
    SAMPLE_HOLDERS,
    WARMER_TOLERANCE_C,
    admits,
    effective_temp,
    next_free,
    occupied,
)

# A suggestion keeps a sample within this band below its storage temperature (no -80 plasma in LN2).
SUGGEST_COLDER_BAND_C = 30.0


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
    site = _Site(session, sample)
    for rule in (_with_the_visit, _with_the_type, _empty):
        found = rule(site, sample)
        if found is not None:
            return found
    return None


class _Site:
    """The units of the sample's site with their usage: which ones fit the sample, and where in them."""

    def __init__(self, session: Session, sample: Sample) -> None:
        self.session, self.sample = session, sample
        self.units = list(session.scalars(select(StorageUnit).where(StorageUnit.site_id == sample.site_id)))
        self.by_id = {u.id: u for u in self.units}
        self.use = usage(session, self.units)

    def chain(self, u: StorageUnit) -> list[StorageUnit]:
        out = [u]
        while out[-1].parent_id in self.by_id:
            out.append(self.by_id[out[-1].parent_id])
        return list(reversed(out))

    def fits(self, u: StorageUnit | None) -> bool:
        sample = self.sample
        if u is None or u.kind not in SAMPLE_HOLDERS or (self.use[u.id].free == 0):
            return False
        c = self.chain(u)
        if admits(c, sample.sample_type):
            return False
        temp, need = effective_temp(c), sample.storage_temp_c
        if temp is not None and need is not None and not (
                need - SUGGEST_COLDER_BAND_C <= temp <= need + WARMER_TOLERANCE_C):
            return False
        return not (sample.storage_container == "PARAFFIN" and u.kind in GRID_KINDS)

    def at(self, u: StorageUnit, reason: str, after: tuple[int, int] | None = None) -> Suggestion | None:
        if u.kind not in GRID_KINDS:
            return Suggestion(u, None, None, reason)
        pos = next_free(self.session, u, after) or next_free(self.session, u)
        return Suggestion(u, pos[0], pos[1], reason) if pos else None


def _with_the_visit(site: _Site, sample: Sample) -> Suggestion | None:
    if sample.visit_id is None:
        return None
    together = site.session.execute(
        select(Placement.unit_id, func.max(Placement.row * 100 + Placement.col))
        .join(Sample, Sample.id == Placement.sample_id)
        .where(Sample.participant_id == sample.participant_id, Sample.visit_id == sample.visit_id,
               Sample.id != sample.id)
        .group_by(Placement.unit_id)
    ).all()
    for unit_id, last in together:
        u = site.by_id.get(unit_id)
        if u is not None and site.fits(u):
            after = (last // 100, last % 100) if last else None
            found = site.at(u, f"with the other samples of {sample.participant.code} at this time point",
                            after)
            if found:
                return found
    return None


def _with_the_type(site: _Site, sample: Sample) -> Suggestion | None:
    same_type = site.session.execute(
        select(Placement.unit_id, func.count()).join(Sample, Sample.id == Placement.sample_id)
        .where(Sample.sample_type_id == sample.sample_type_id).group_by(Placement.unit_id)
    ).all()
    use = site.use
    for unit_id, _n in sorted(same_type, key=lambda r: -use[r[0]].used if r[0] in use else 0):
        u = site.by_id.get(unit_id)
        if u is not None and site.fits(u):
            found = site.at(u, f"the fullest container already holding {sample.sample_type.name}")
            if found:
                return found
    return None


def _empty(site: _Site, sample: Sample) -> Suggestion | None:
    for u in sorted(site.units, key=lambda u: (site.use[u.id].used > 0, u.name)):
        if site.fits(u):
            found = site.at(u, "an empty container that admits this sample type at its temperature")
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


