"""Marshmallow schemas for participants at the JSON edge."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lims.access.fields import ParticipantDate, StudyDay


class ParticipantQuerySchema(Schema):
    q = fields.String(load_default=None, validate=validate.Length(max=40),
                      metadata={"description": "Search the participant code or site code"})
    site = fields.String(load_default=None, validate=validate.Length(max=10))
    stratum = fields.String(load_default=None, validate=validate.Length(max=40))


class ConsentSchema(Schema):
    version = fields.String()
    signed_on = ParticipantDate()
    signed_day = StudyDay("signed_on", lambda c: c.participant)
    withdrawn_on = ParticipantDate(allow_none=True)
    withdrawn_day = StudyDay("withdrawn_on", lambda c: c.participant)
    scopes = fields.Method("_scopes")

    def _scopes(self, consent: object) -> dict[str, bool]:
        return {s.scope: s.granted for s in consent.scopes}  # type: ignore[attr-defined]


class VisitSchema(Schema):
    timepoint = fields.Function(lambda v: v.timepoint.code)
    planned_on = ParticipantDate(allow_none=True)
    planned_day = StudyDay("planned_on", lambda v: v.participant)
    window_start = ParticipantDate(allow_none=True)
    window_end = ParticipantDate(allow_none=True)
    actual_on = ParticipantDate(allow_none=True)
    actual_day = StudyDay("actual_on", lambda v: v.participant)
    status = fields.String()


class ParticipantSchema(Schema):
    code = fields.String(metadata={"description": "Pseudonymous study ID, e.g. ZJ-014"})
    site = fields.Function(lambda p: p.site.code)
    enrolled_on = ParticipantDate(allow_none=True, metadata={
        "description": "Calendar date of enrolment; null unless your role may see exact dates (dates.exact)"})
    stratum = fields.String(allow_none=True)
    sex = fields.String(allow_none=True)
    age = fields.Integer(allow_none=True)
    ecog = fields.Integer(allow_none=True)
    stage = fields.String(allow_none=True)
    withdrawn = fields.Boolean()


class ParticipantDetailSchema(ParticipantSchema):
    consents = fields.List(fields.Nested(ConsentSchema))
    visits = fields.List(fields.Nested(VisitSchema))
