"""Retention reminders: each sample newly past its type's retention period gets one audit row, once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import access
from lims.core.audit import record
from lims.core.models import AuditEvent
from lims.storage.service import retention_due
from lims.studies.models import Study

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
                   detail=f"{row.sample.accession} ({row.sample.sample_type.code}) is kept past its {row.years}-year "
                          f"retention period, due {row.due_on.isoformat()}"
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
    return {int(object_id): at for object_id, at in rows}
