"""Marshmallow schemas for participants at the JSON edge."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ParticipantQuerySchema(Schema):
    q = fields.String(load_default=None, validate=validate.Length(max=40),
                      metadata={"description": "Search the participant code or site code"})
    site = fields.String(load_default=None, validate=validate.Length(max=10))
    stratum = fields.String(load_default=None, validate=validate.Length(max=40))


class ConsentSchema(Schema):
    version = fields.String()
    signed_on = fields.Date()
    withdrawn_on = fields.Date(allow_none=True)
    scopes = fields.Method("_scopes")

    def _scopes(self, consent: object) -> dict[str, bool]:
        return {s.scope: s.granted for s in consent.scopes}  # type: ignore[attr-defined]


class VisitSchema(Schema):
    timepoint = fields.Function(lambda v: v.timepoint.code)
    planned_on = fields.Date(allow_none=True)
    window_start = fields.Date(allow_none=True)
    window_end = fields.Date(allow_none=True)
    actual_on = fields.Date(allow_none=True)
    status = fields.String()


class ParticipantSchema(Schema):
    code = fields.String(metadata={"description": "Pseudonymous study ID, e.g. ZJ-014"})
    site = fields.Function(lambda p: p.site.code)
    enrolled_on = fields.Date()
    stratum = fields.String(allow_none=True)
    sex = fields.String(allow_none=True)
    age = fields.Integer(allow_none=True)
    ecog = fields.Integer(allow_none=True)
    stage = fields.String(allow_none=True)
    withdrawn = fields.Boolean()


class ParticipantDetailSchema(ParticipantSchema):
    consents = fields.List(fields.Nested(ConsentSchema))
    visits = fields.List(fields.Nested(VisitSchema))
