"""Schemas of the jobs edge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate


class JobFileSchema(Schema):
    """The file a job produced (download it from ``url``: only its requester may)."""

    filename = fields.String()
    mimetype = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    url = fields.Method("_url")

    def _url(self, stored: Any) -> str:
        return f"/api/v1/jobs/{stored.job_id}/download"


class JobSchema(Schema):
    """A background job and how far it got."""

    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    progress = fields.Float()
    message = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    result = fields.Dict(allow_none=True)
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    url = fields.Method("_url", metadata={"description": "The job's page"})
    file = fields.Nested(JobFileSchema, allow_none=True)

    def _url(self, job: Any) -> str:
        return f"/jobs/{job.id}"


class SelftestSchema(Schema):
    """Ask the workers to run a self-test job."""

    seconds = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=600))
