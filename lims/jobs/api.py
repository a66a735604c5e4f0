"""Jobs JSON API: follow, cancel and retry your background jobs."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.permissions import permission_required
from lims.extensions import db
from lims.jobs import queue, service
from lims.jobs.access import require_job
from lims.jobs.schemas import JobSchema, SelftestSchema

blp = Blueprint("jobs_api", __name__, description="Background jobs: progress, cancel, retry")


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
@blp.arguments(SelftestSchema)
@blp.response(202, JobSchema)
def selftest(args: dict[str, Any]) -> Any:
    """Queue a worker self-test job (admins): proves the workers pick jobs up."""
    return queue.enqueue(db.session, "selftest", {"seconds": args["seconds"]}, by=current_user,
                         max_attempts=1)
