"""Periodic storage work: remind, once per sample, that a sample is kept past its retention period."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import access
from lims.core.audit import record
from lims.core.models import AuditEvent
from lims.jobs.models import Job
from lims.jobs.service import Handler, Progress
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


def run_reminders(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Record the retention reminders not recorded yet."""
    progress.report(0.1, "listing samples past their retention period")
    return progress.step(lambda: remind_retention(session))


HANDLERS = {"retention_reminder": Handler(run_reminders, label="Retention reminders", periodic=True)}
