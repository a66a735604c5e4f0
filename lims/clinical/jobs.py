"""Scheduled clinical work: pull the REDCap project through its API and import it (only when configured).

``redcap_sync`` runs every ``REDCAP_SYNC_MINUTES`` (default: every scheduler round, 15 minutes) when
``REDCAP_URL`` and ``REDCAP_TOKEN`` are set, and on demand (``lims clinical redcap-sync``, the import page).
Every run imports on nobody's behalf: the import run has no user and no signature (the data come from
the EDC's own audited records, pulled with the project's token); who asked for a run on demand is the job's
``created_by``. Problems in the data end the job failed
with the importer's named problems (nothing written); so does an unreachable REDCap or a refused token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from lims.clinical.redcap import import_redcap
from lims.clinical.redcap_api import configured_source, fetch_export
from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.jobs import service as jobs
from lims.jobs.models import Job
from lims.jobs.service import Failed, Handler, Progress
from lims.studies.service import get_study

KIND = "redcap_sync"


def sync_minutes() -> float:
    """How often the scheduler pulls REDCap (``REDCAP_SYNC_MINUTES``; 0 or unset: every scheduler round)."""
    try:
        return max(float(current_app.config.get("REDCAP_SYNC_MINUTES") or 0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def due(session: Session, last: Job | None) -> bool:
    """Schedule a sync when REDCap is configured and the last one is older than ``REDCAP_SYNC_MINUTES``."""
    if configured_source(current_app.config) is None:
        return False
    if last is None or last.created_at is None:
        return True
    return utcnow() - last.created_at >= timedelta(minutes=sync_minutes())


def queue_sync(session: Session, *, by: Any, push: Any = None) -> Job:
    """Ask for a REDCap sync now on behalf of ``by`` (refused at once when REDCap is not configured)."""
    if configured_source(current_app.config) is None:
        raise DomainError("REDCap is not configured (set LIMS_REDCAP_URL and LIMS_REDCAP_TOKEN)")
    return jobs.enqueue(session, KIND, by=by, lock_key=f"periodic:{KIND}", max_attempts=1, push=push)


def run_sync(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Pull every record through the API, then import it through the REDCap importer in one step."""
    source = configured_source(current_app.config)
    if source is None:
        raise DomainError("REDCap is not configured (set LIMS_REDCAP_URL and LIMS_REDCAP_TOKEN)")
    job_id = job.id
    progress.report(0.1, f"exporting the records from {source.url}")
    data = fetch_export(source)  # outside any step: no transaction stays open while REDCap answers
    progress.report(0.5, f"checking and importing {len(data)} bytes of records")

    def work() -> dict[str, Any]:
        report = import_redcap(session, get_study(session), source.name, data, by=None)
        if not report.applied:  # keep the importer's report with the failed job (nothing else was written)
            jobs.get_job(session, job_id).result = report.as_dict()
        return report.as_dict()
    result = progress.step(work)
    if not result["applied"]:
        problems = result["problems"]
        named = "; ".join(_issue(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise Failed(f"REDCap records refused, nothing imported: {len(problems)} problem(s): {named}{more}")
    return result


def _issue(problem: dict[str, Any]) -> str:
    where = f"row {problem['row']}" if problem.get("row") else problem.get("file", "")
    value = f" = {problem['value']!r}" if problem.get("value") not in (None, "") else ""
    return f"{where} {problem.get('field') or ''}{value}: {problem.get('reason')}".strip()


HANDLERS = {KIND: Handler(run_sync, label="REDCap sync", periodic=True, due=due)}
