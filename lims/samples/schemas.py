"""Marshmallow schemas for samples and their custody at the JSON edge."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lims.samples.models import DERIVATIONS, STATUSES


class SampleQuerySchema(Schema):
    participant = fields.String(load_default=None, validate=validate.Length(max=20))
    timepoint = fields.String(load_default=None, validate=validate.Length(max=40))
    sample_type = fields.String(load_default=None, validate=validate.Length(max=40))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    derivation = fields.String(load_default=None, validate=validate.OneOf(DERIVATIONS))


class SampleSchema(Schema):
    accession = fields.String(allow_none=True)
    participant = fields.Function(lambda s: s.participant.code)
    site = fields.Function(lambda s: s.participant.site.code)
    timepoint = fields.Function(lambda s: s.visit.timepoint.code if s.visit else None, allow_none=True)
    sample_type = fields.Function(lambda s: s.sample_type.code)
    container = fields.Function(lambda s: s.container_type.code if s.container_type else None, allow_none=True)
    derivation = fields.String()
    parent = fields.Function(lambda s: s.parent.accession if s.parent else None, allow_none=True)
    status = fields.String()
    quantity = fields.Float(allow_none=True)
    unit = fields.String()
    freeze_thaw_count = fields.Integer()
    missed_reason = fields.String(allow_none=True)
    collected_at = fields.DateTime(allow_none=True)


class CustodyEventSchema(Schema):
    seq = fields.Integer()
    action = fields.String()
    at = fields.DateTime()
    user = fields.Function(lambda e: e.user.username if e.user else None, allow_none=True)
    site_code = fields.String(allow_none=True)
    from_location = fields.String(allow_none=True)
    to_location = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    details = fields.Dict()
    corrects_id = fields.Integer(allow_none=True)
    hash = fields.String(attribute="mac")  # the event MAC in its sample chain (name kept for API clients)


class SampleDetailSchema(SampleSchema):
    sprec = fields.String(allow_none=True)
    children = fields.Function(lambda s: [c.accession for c in s.children])
    custody = fields.List(fields.Nested(CustodyEventSchema))
