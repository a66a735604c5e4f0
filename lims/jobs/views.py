"""Job pages: a job's progress (the page refreshes itself while it runs), cancel and retry."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_login import current_user

from lims.core.errors import DomainError
from lims.core.permissions import permission_required
from lims.core.uow import refuse
from lims.extensions import db
from lims.jobs import queue, service
from lims.jobs.access import require_download, require_job

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/")
@permission_required("read")
def index() -> Any:
    """List your newest background jobs (admins: everyone's)."""
    rows = service.recent(db.session, user=None if current_user.role == "admin" else current_user)
    return render_template("jobs/index.html", jobs=rows, labels=_labels())


@bp.get("/<int:job_id>")
@permission_required("read")
def detail(job_id: int) -> Any:
    """Show one job with its progress, message, error and the links it produced."""
    job = require_job(current_user, service.get_job(db.session, job_id))
    return render_template("jobs/detail.html", job=job, labels=_labels())


@bp.get("/<int:job_id>/download")
@permission_required("read")
def download(job_id: int) -> Any:
    """Download the file the job produced (only the one who asked for it, with the permission it needs)."""
    job = service.get_job(db.session, job_id)
    return file_response(require_download(current_user, job, service.file_of(db.session, job)))


def file_response(stored: Any) -> Response:
    """Answer with a job's stored file as an attachment."""
    return Response(stored.content, mimetype=stored.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{stored.filename}"',
                             "X-Content-SHA256": stored.sha256})


@bp.post("/<int:job_id>/cancel")
@permission_required("read")
def cancel(job_id: int) -> Any:
    """Cancel the job."""
    job = require_job(current_user, service.get_job(db.session, job_id))  # 404 outside the try: not a refusal
    try:
        service.cancel(db.session, job)
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"Job #{job_id}: cancel requested.", "info")
    return redirect(url_for("jobs.detail", job_id=job_id))


@bp.post("/<int:job_id>/retry")
@permission_required("read")
def retry(job_id: int) -> Any:
    """Queue the failed or cancelled job again."""
    job = require_job(current_user, service.get_job(db.session, job_id))  # 404 outside the try: not a refusal
    try:
        service.retry(db.session, job, push=queue.pusher())
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"Job #{job_id} queued again.", "info")
    return redirect(url_for("jobs.detail", job_id=job_id))


def _labels() -> dict[str, str]:
    return {kind: handler.label or kind.replace("_", " ") for kind, handler in service.handlers().items()}
