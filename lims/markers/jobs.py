"""Dataset exports and large results imports as background jobs, through the same functions as in the request.

An export's zip is kept for its requester to download from the job's page; an import's upload is kept with
the job until it runs, and its report is the job's result.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from lims.core.errors import DomainError
from lims.jobs import queue
from lims.jobs import service as jobs
from lims.jobs.models import Job
from lims.jobs.service import Failed, Handler, Progress
from lims.markers.export import ExportQuery, ExportResult, check_query, export_dataset
from lims.markers.importer import ImportFailed, import_results
from lims.markers.report import ImportReport
from lims.markers.service import count_results
from lims.studies.service import get_study

PERMISSION = "export.dataset"
IMPORT_PERMISSION = "markers.import"


def export_or_queue(session: Session, query: ExportQuery, *, by: Any) -> ExportResult | Job:
    """Export at once, or queue the export as a job when it reads many results (the page and the API
    alike)."""
    if queue.runs_as_job(count_results(session, markers=query.markers)):
        return queue_export(session, query, by=by)
    return export_dataset(session, get_study(session), query, by=by)


def import_or_queue(session: Session, content: bytes, *, filename: str, by: Any) -> ImportReport | Job:
    """Import an uploaded results file at once (all or nothing: :class:`ImportFailed` with the report), or
    queue it as a job when it is large (the page and the API alike)."""
    if queue.imports_as_job(len(content)):
        return queue_import(session, content, filename=filename, by=by)
    return import_results(session, content, filename=filename, by=by)


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


def queue_import(session: Session, content: bytes, *, filename: str, by: Any) -> Job:
    """Queue the import of an uploaded results file (kept with the job until it runs)."""
    job = queue.enqueue(session, "results_import", {"filename": filename}, by=by)
    jobs.attach_file(session, job.id, filename=filename, mimetype="application/octet-stream", content=content,
                     permission=IMPORT_PERMISSION, purpose="input")
    return job


def run_import(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Import the uploaded file for its requester: all or nothing, as in the request; keep the report."""
    job_id, filename = job.id, str(job.params["filename"])
    progress.report(0.05, f"checking every row of {filename}")

    def work() -> dict[str, Any]:
        user = jobs.requester(session, jobs.get_job(session, job_id), IMPORT_PERMISSION)
        upload = jobs.file_of(session, jobs.get_job(session, job_id), purpose="input")
        if upload is None:
            raise DomainError(f"the upload of job #{job_id} is gone")
        report = import_results(session, upload.content, filename=filename, by=user)
        session.delete(upload)  # imported: the copy is no longer needed
        return {"summary": f"{report.results} result(s) stored from {filename} ({report.rows} rows)",
                "report": report.to_dict()}
    try:
        return progress.step(work)
    except ImportFailed as exc:
        refused = exc.report.to_dict()
        progress.step(lambda: _keep_report(session, job_id, refused))
        raise Failed(exc.message) from None


def _keep_report(session: Session, job_id: int, report: dict[str, Any]) -> None:
    job = jobs.get_job(session, job_id)
    job.result = {"summary": f"nothing was imported: {report['problem_count']} problem(s)", "report": report}
    session.flush()


HANDLERS = {"dataset_export": Handler(run_export, label="Dataset export"),
            "results_import": Handler(run_import, label="Marker results import")}
