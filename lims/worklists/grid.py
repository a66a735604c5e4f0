"""The sample grid: samples filtered by participant, time point, type, status, location and site, paged in the
database, and the same selection as a CSV download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from lims import access
from lims.core.errors import DomainError
from lims.samples.models import Sample
from lims.samples.search import count, sample_query
from lims.storage import service as storage
from lims.storage.export import safe_cell
from lims.storage.models import Placement

MAX_CSV_ROWS = 50_000
CHUNK = 1000
COLUMNS = ("accession", "participant", "site", "timepoint", "sample_type", "derivation", "status", "quantity",
           "unit", "collected", "location")


def location_clause(session: Session, user: Any, location: str | None) -> ColumnElement[bool] | None:
    """A clause on Sample for the location filter: 'none' (not in storage) or a unit barcode (and inside
    it)."""
    text = (location or "").strip()
    if not text:
        return None
    placed = select(Placement.sample_id)
    if text.lower() in ("none", "-", "not stored"):
        return Sample.id.not_in(placed)
    unit = storage.get_unit_by_barcode(session, text, site_codes=getattr(user, "site_codes", None))
    if not access.may_see(user, unit):
        raise DomainError(f"no storage unit with barcode {text.upper()}", field="location")
    return Sample.id.in_(placed.where(Placement.unit_id.in_(storage.descendant_ids(session, unit.id))))


def grid_query(session: Session, user: Any, filters: dict[str, Any]) -> Any:
    """Return the grid's statement for ``filters`` (the samples filters plus ``location``)."""
    filters = dict(filters)
    where = location_clause(session, user, filters.pop("location", None))
    return sample_query(user, where=where, **{k: v for k, v in filters.items() if v})


def page(session: Session, user: Any, filters: dict[str, Any], *, number: int,
         size: int) -> tuple[list[Sample], int, dict[int, str]]:
    """Return one page of the grid (LIMIT/OFFSET in SQL), the total, and the locations of the page's
    samples."""
    stmt = grid_query(session, user, filters)
    total = count(session, stmt)
    samples = list(session.scalars(stmt.limit(size).offset((number - 1) * size)))
    return samples, total, storage.location_paths(session, [s.id for s in samples])


def row(sample: Sample, user: Any, location: str | None) -> dict[str, Any]:
    """Return a sample as a grid row (dates as the user may see them)."""
    return {
        "accession": sample.accession, "participant": sample.participant.code, "site": sample.site.code,
        "timepoint": sample.visit.timepoint.code if sample.visit else None,
        "sample_type": sample.sample_type.code,
        "derivation": sample.derivation, "status": sample.status, "quantity": sample.quantity,
        "unit": sample.unit,
        "collected": access.when(user, sample.participant, sample.collected_at) or None, "location": location,
    }


def csv_lines(session: Session, user: Any, filters: dict[str, Any]) -> Iterator[str]:
    """Yield the grid's selection as CSV text, header first, in chunks read page by page from the database."""
    stmt = grid_query(session, user, filters)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for offset in range(0, MAX_CSV_ROWS, CHUNK):
        samples = list(session.scalars(stmt.limit(CHUNK).offset(offset)))
        paths = storage.location_paths(session, [s.id for s in samples])
        for sample in samples:
            values = row(sample, user, paths.get(sample.id))
            writer.writerow([safe_cell(values[c]) for c in COLUMNS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(samples) < CHUNK:
            return
