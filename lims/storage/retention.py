"""Retention: samples past the retention period of their study, and one reminder (an audit row) for each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from lims import access
from lims.core.audit import record
from lims.core.models import AuditEvent
from lims.samples.models import Sample
from lims.storage.locations import location_paths
from lims.studies.models import Study


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


ACTION = "retention_reminder"


def remind_retention(session: Session) -> dict[str, int]:
    """Record an audit row for each sample newly past its retention period (each study's local today)."""
    due = reminded = 0
    known = set(session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == ACTION,
                                                                   AuditEvent.object_type == "sample")))
    for study in list(session.scalars(select(Study).order_by(Study.id))):
        rows = retention_due(session, study, on=access.local_today(access.study_zone(study)))
        for row in rows:
            if str(row.sample.id) in known:
                continue
            record(session, ACTION, username="scheduler", object_type="sample", object_id=row.sample.id,
                   detail=f"{row.sample.accession} ({row.sample.sample_type.code}) is kept past its "
                          f"{row.years}-year retention period, due {row.due_on.isoformat()}"
                          + (f", at {row.location}" if row.location else "") + ": review it for disposal")
            reminded += 1
        due += len(rows)
    session.flush()
    return {"due": due, "reminded": reminded}


def reminded_on(session: Session, sample_ids: Iterable[int]) -> dict[int, datetime]:
    """Return when each of these samples was first reminded of (samples never reminded are left out)."""
    ids = [str(i) for i in sample_ids]
    if not ids:
        return {}
    rows = session.execute(select(AuditEvent.object_id, func.min(AuditEvent.at))
                           .where(AuditEvent.action == ACTION, AuditEvent.object_type == "sample",
                                  AuditEvent.object_id.in_(ids)).group_by(AuditEvent.object_id))
    return {int(object_id): at for object_id, at in rows if object_id is not None}
