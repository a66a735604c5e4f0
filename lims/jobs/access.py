"""Who may see and steer a job: the one who asked for it, and admins."""

from __future__ import annotations

from typing import Any

from lims.core.errors import NotFound
from lims.jobs.models import Job


def require_job(user: Any, job: Job) -> Job:
    """Return the job if ``user`` asked for it or is an admin; otherwise it is not found."""
    if getattr(user, "role", None) == "admin" or job.created_by_id == getattr(user, "id", None):
        return job
    raise NotFound(f"no job #{job.id}")
