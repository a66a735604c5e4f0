"""Dataset exports as background jobs: the zip is built by the same function as in the request, and kept
for its requester to download from the job's page."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from lims.jobs import queue
from lims.jobs import service as jobs
from lims.jobs.models import Job
from lims.jobs.service import Handler, Progress
from lims.markers.export import ExportQuery, check_query, export_dataset
from lims.studies.service import get_study

PERMISSION = "export.dataset"


def queue_export(session: Session, query: ExportQuery, *, by: Any) -> Job:
    """Queue the export ``query`` for ``by`` (refusing at once what would be refused when it runs)."""
    check_query(query, getattr(by, "role", ""))
    return queue.enqueue(session, "dataset_export", {"query": asdict(query)}, by=by)


def run_export(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Build the export for its requester, as they may see it now (consent and role decided here)."""
    job_id, query = job.id, ExportQuery(**job.params["query"])
    progress.report(0.05, "building the dataset")

    def work() -> dict[str, Any]:
        user = jobs.requester(session, jobs.get_job(session, job_id), PERMISSION)
        result = export_dataset(session, get_study(session), query, by=user)
        jobs.attach_file(session, job_id, filename=result.filename, mimetype="application/zip",
                         content=result.content, permission=PERMISSION)
        return {"export_id": result.run.id, "filename": result.filename, **result.run.row_counts}
    return progress.step(work)


HANDLERS = {"dataset_export": Handler(run_export, label="Dataset export")}
