"""Periodic storage work: remind, once per sample, that a sample is kept past its retention period."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lims.jobs.models import Job
from lims.jobs.service import Handler, Progress
from lims.storage.retention import remind_retention


def run_reminders(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Record the retention reminders not recorded yet."""
    progress.report(0.1, "listing samples past their retention period")
    return progress.step(lambda: remind_retention(session))


HANDLERS = {"retention_reminder": Handler(run_reminders, label="Retention reminders", periodic=True)}
