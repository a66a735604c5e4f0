"""Schemas of the jobs edge."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


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


class SelftestSchema(Schema):
    """Ask the workers to run a self-test job."""

    seconds = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=600))
