"""Marker catalogue rules (save, import a catalogue CSV) and the results list query."""

from __future__ import annotations

import io
import math
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lims import consent
from lims.core.errors import Conflict, DomainError, NotFound
from lims.core.forms import form_errors
from lims.core.spreadsheet import TextError, decode_text, frame_csv, restore
from lims.markers import units
from lims.markers.importer import ImportFailed, ImportReport, Problem
from lims.markers.models import CATEGORIES, TRANSFORMS, Marker, MarkerResult
from lims.participants.models import Participant
from lims.samples.models import Sample
from lims.studies.models import SampleType

CATALOGUE_COLUMNS = ("code", "name", "category", "unit", "assay", "platform", "specimen_types", "lod", "lloq",
                     "uloq", "transform", "description")


def get_marker(session: Session, code: str) -> Marker:
    """Return the marker with ``code`` (case-insensitive) or raise NotFound."""
    marker = session.scalar(select(Marker).where(func.lower(Marker.code) == code.strip().lower()))
    if marker is None:
        raise NotFound(f"no marker {code!r} in the catalogue")
    return marker


def count_results(session: Session, *, markers: list[str] | None = None, category: str | None = None,
                  sample_type: str | None = None) -> int:
    """Count the marker results a screen or an export of these markers would read (an upper bound)."""
    stmt = select(func.count(MarkerResult.id)).join(Marker, Marker.id == MarkerResult.marker_id)
    if markers:
        stmt = stmt.where(Marker.code.in_(markers))
    if category:
        stmt = stmt.where(Marker.category == category)
    if sample_type:
        stmt = (stmt.join(Sample, Sample.id == MarkerResult.sample_id)
                .join(SampleType, SampleType.id == Sample.sample_type_id)
                .where(SampleType.code == sample_type))
    return int(session.scalar(stmt) or 0)


def list_markers(session: Session, category: str | None = None) -> list[Marker]:
    """Return the catalogue, ordered by category and code."""
    stmt = select(Marker).order_by(Marker.category, Marker.code)
    if category:
        stmt = stmt.where(Marker.category == category)
    return list(session.scalars(stmt))


def _check(session: Session, data: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (field, reason) for every rule a marker definition breaks."""
    errors: list[tuple[str, str]] = []
    code = str(data.get("code") or "").strip()
    if not code or len(code) > 60 or any(ch.isspace() for ch in code) or "|" in code:
        errors.append(("code", "code is required: up to 60 characters, no spaces"))
    if not str(data.get("name") or "").strip():
        errors.append(("name", "name is required"))
    if data.get("category") not in CATEGORIES:
        errors.append(("category", f"category must be one of {', '.join(CATEGORIES)}"))
    unit = str(data.get("unit") or "").strip()
    if not unit:
        errors.append(("unit", "unit is required"))
    elif not units.known(unit):
        errors.append(("unit", f"unknown unit {unit!r}; known units: {', '.join(sorted(units.UNITS))}"))
    if data.get("transform", "none") not in TRANSFORMS:
        errors.append(("transform", f"transform must be one of {', '.join(TRANSFORMS)}"))
    known_types = set(session.scalars(select(SampleType.code)))
    types = data.get("specimen_types") or []
    if not types:
        errors.append(("specimen_types", "name at least one specimen type"))
    for t in types:
        if t not in known_types:
            errors.append(("specimen_types",
                           f"unknown specimen type {t!r}; use {', '.join(sorted(known_types))}"))
    limits = {k: data.get(k) for k in ("lod", "lloq", "uloq")}
    for k, v in limits.items():
        if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0):
            errors.append((k, f"{k} must be a non-negative number"))
    lod, lloq, uloq = limits["lod"], limits["lloq"], limits["uloq"]
    if isinstance(lod, (int, float)) and isinstance(lloq, (int, float)) and lloq < lod:
        errors.append(("lloq", "LLOQ cannot be below LOD"))
    if isinstance(lloq, (int, float)) and isinstance(uloq, (int, float)) and uloq <= lloq:
        errors.append(("uloq", "ULOQ must be above LLOQ"))
    return errors


def save_marker(session: Session, data: dict[str, Any], *, marker: Marker | None = None,
                by: Any = None) -> Marker:
    """Create a marker, or update ``marker``, after checking every field."""
    data = {**data, "code": str(data.get("code") or "").strip()}
    errors = _check(session, data)
    if errors:
        raise DomainError("; ".join(r for _f, r in errors), field=errors[0][0])
    clash = session.scalar(select(Marker).where(func.lower(Marker.code) == data["code"].lower()))
    if clash is not None and clash is not marker:
        raise Conflict(f"a marker with code {data['code']!r} already exists", field="code")
    if marker is None:
        marker = Marker()
        session.add(marker)
    for key in CATALOGUE_COLUMNS:
        if key in data:
            value = data[key]
            if key in ("assay", "platform", "description") and value is None:
                value = ""
            setattr(marker, key, value)
    marker.transform = data.get("transform") or "none"
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"the marker {data['code']!r} conflicts with the catalogue: {exc.orig}") from None
    return marker


def _catalogue_row(session: Session, rec: dict[str, str], filename: str, row: int,
                   report: ImportReport) -> dict[str, Any] | None:
    """Load one catalogue row with the API's schema and the catalogue rules; record its problems."""
    from lims.markers.schemas import MarkerSchema

    raw: dict[str, Any] = {k: restore(str(rec.get(k, "")).strip()) for k in CATALOGUE_COLUMNS if k in rec}
    raw["specimen_types"] = [t.strip().upper()
                             for t in raw.get("specimen_types", "").replace(",", ";").split(";")
                             if t.strip()]
    raw = {k: v for k, v in raw.items() if v not in ("", [])}
    try:
        item = MarkerSchema().load(raw)
    except ValidationError as exc:
        for name, reason in form_errors(exc).items():
            report.add(Problem(filename, row, name, None if raw.get(name) is None else str(raw.get(name)),
                               reason))
        return None
    problems = _check(session, item)
    for name, reason in problems:
        report.add(Problem(filename, row, name, str(item.get(name, "")), reason))
    return None if problems else item


def import_catalogue(session: Session, data: bytes, *, filename: str = "catalogue.csv",
                     by: Any = None) -> int:
    """Create or update markers from a catalogue CSV (all or nothing); return how many were saved."""
    import pandas as pd

    report = ImportReport(filename=filename, layout="catalogue")
    try:
        frame = pd.read_csv(io.StringIO(decode_text(data)), dtype=str, keep_default_na=False)
    except TextError as exc:
        report.add(Problem(filename, exc.line, None, exc.value, exc.reason))
        raise ImportFailed(report) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        report.add(Problem(filename, None, None, None, f"cannot read the file: {exc}"))
        raise ImportFailed(report) from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    absent = [c for c in ("code", "name", "category", "unit", "specimen_types") if c not in frame.columns]
    if absent:
        report.add(Problem(filename, 1, ", ".join(absent), None, "missing required column(s)"))
        raise ImportFailed(report)
    existing = {m.code.lower(): m for m in session.scalars(select(Marker))}
    seen: dict[str, int] = {}
    rows = []
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        item = _catalogue_row(session, rec, filename, i, report)
        if item is None:
            continue
        key = item["code"].lower()
        if key in seen:
            report.add(Problem(filename, i, "code", item["code"],
                               f"duplicate of row {seen[key]} in this file"))
        seen[key] = i
        rows.append(item)
    if not rows:
        report.add(Problem(filename, None, None, None, "the file holds no markers"))
    if not report.ok:
        raise ImportFailed(report)
    for item in rows:
        save_marker(session, item, marker=existing.get(item["code"].lower()), by=by)
    return len(rows)


def catalogue_csv(session: Session) -> str:
    """Return the catalogue as CSV (the format ``import_catalogue`` reads)."""
    import pandas as pd

    rows = [{**{k: getattr(m, k) for k in CATALOGUE_COLUMNS}, "specimen_types": ";".join(m.specimen_types)}
            for m in list_markers(session)]
    return frame_csv(pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS)))


def results_query(session: Session, *, marker: str | None = None, accession: str | None = None,
                  participant: str | None = None,
                  import_id: int | None = None, remeasurements_only: bool = False,
                  where: Any = None) -> Select[MarkerResult, str | None, str, str]:
    """Build the results list query with its filters (newest first).

    Results whose use consent does not allow for marker research (withdrawn participants, genetic material
    without genetic consent) are never listed; ``where`` (clauses on Sample/Participant) narrows further,
    e.g. to the samples a user may see.
    """
    stmt = (select(MarkerResult, Sample.accession, Participant.code, Marker.code)
            .join(Sample, Sample.id == MarkerResult.sample_id)
            .join(Participant, Participant.id == Sample.participant_id)
            .join(Marker, Marker.id == MarkerResult.marker_id)
            .order_by(MarkerResult.id.desc()))
    if marker:
        stmt = stmt.where(func.lower(Marker.code) == marker.strip().lower())
    if accession:
        stmt = stmt.where(Sample.accession == accession.strip().upper())
    if participant:
        stmt = stmt.where(Participant.code == participant.strip().upper())
    if import_id:
        stmt = stmt.where(MarkerResult.import_id == import_id)
    if remeasurements_only:
        stmt = stmt.where(MarkerResult.replicate > 1)
    stmt = stmt.where(consent.usable_samples(session, "marker_research"))
    if where is not None:
        stmt = stmt.where(where)
    return stmt


def count(session: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    """Count the rows a list query would return."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
