"""Who may see and steer a job: the one who asked for it, and admins."""

from __future__ import annotations

from typing import Any

from lims.core.errors import Forbidden, NotFound
from lims.core.permissions import allowed
from lims.jobs.models import Job, JobFile


def require_job(user: Any, job: Job) -> Job:
    """Return the job if ``user`` asked for it or is an admin; otherwise it is not found."""
    if getattr(user, "role", None) == "admin" or job.created_by_id == getattr(user, "id", None):
        return job
    raise NotFound(f"no job #{job.id}")


def require_download(user: Any, job: Job, stored: JobFile | None) -> JobFile:
    """Return the job's file if ``user`` asked for the job and still holds the permission the file needs.

    Only the requester: the export's audit record names them, so nobody else (not even an admin, who may
    watch the job) takes their copy away. Others' files are not found; a lost permission is refused.
    """
    if job.created_by_id != getattr(user, "id", None):
        require_job(user, job)  # another's job is not found, like one that does not exist (admins see it)
        raise NotFound(f"job #{job.id} has no file for you")
    if stored is None:
        raise NotFound(f"job #{job.id} has no file")
    if not allowed(getattr(user, "role", None), stored.permission):
        raise Forbidden(f"your role may no longer {stored.permission}")
    return stored
