"""Jobs JSON API: follow, cancel and retry your background jobs."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.permissions import permission_required
from lims.extensions import db
from lims.jobs import queue, service
from lims.jobs.access import require_download, require_job
from lims.jobs.schemas import JobSchema, SelftestSchema
from lims.jobs.views import file_response

blp = Blueprint("jobs_api", __name__, description="Background jobs: progress, cancel, retry")


def accepted(job: Any) -> Response:
    """Answer 202 with a queued job, its page in ``Location`` (the job runs once the request commits)."""
    db.session.flush()
    return Response(json.dumps(JobSchema().dump(job)), status=202, mimetype="application/json",
                    headers={"Location": f"/api/v1/jobs/{job.id}"})


def _job(job_id: int) -> Any:
    return require_job(current_user, service.get_job(db.session, job_id))


@blp.route("/")
@permission_required("read")
@blp.response(200, JobSchema(many=True))
def jobs() -> Any:
    """List your newest jobs (admins: everyone's)."""
    return service.recent(db.session, user=None if current_user.role == "admin" else current_user)


@blp.route("/<int:job_id>")
@permission_required("read")
@blp.response(200, JobSchema)
def job(job_id: int) -> Any:
    """Show one job: status, progress, message, error and result."""
    return _job(job_id)


@blp.route("/<int:job_id>/download")
@permission_required("read")
@blp.response(200, content_type="application/octet-stream",
              description="The file the job produced (an export zip); only for the one who asked for the job")
@blp.alt_response(404, description="No such job, no file yet, or not your job")
def download(job_id: int) -> Any:
    """Download the file a finished job produced."""
    job = service.get_job(db.session, job_id)
    return file_response(require_download(current_user, job, service.file_of(db.session, job)))


@blp.route("/<int:job_id>/cancel", methods=["POST"])
@permission_required("read")
@blp.response(200, JobSchema)
@blp.alt_response(409, description="The job already ended")
def cancel(job_id: int) -> Any:
    """Cancel a job: a queued one at once, a running one at its next progress report."""
    return service.cancel(db.session, _job(job_id))


@blp.route("/<int:job_id>/retry", methods=["POST"])
@permission_required("read")
@blp.response(202, JobSchema)
@blp.alt_response(409, description="Only a failed or cancelled job can be retried")
def retry(job_id: int) -> Any:
    """Queue a failed or cancelled job again."""
    return service.retry(db.session, _job(job_id), push=queue.pusher())


@blp.route("/selftest", methods=["POST"])
@permission_required("jobs.admin")
@blp.arguments(SelftestSchema, required=False)
@blp.response(202, JobSchema)
def selftest(args: dict[str, Any]) -> Any:
    """Queue a worker self-test job (admins): proves the workers pick jobs up."""
    return queue.enqueue(db.session, "selftest", {"seconds": args["seconds"]}, by=current_user,
                         max_attempts=1)
