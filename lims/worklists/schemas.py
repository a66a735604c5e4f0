"""Schemas of the worklist JSON API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lims.access.fields import ParticipantDate, StudyDay
from lims.core.fields import Date


class WorklistQuerySchema(Schema):
    week = Date(load_default=None,
                metadata={"description": "Any day of the week to list (default: this week, study time)"})
    site = fields.String(load_default=None, validate=validate.Length(max=10))


class KitLineSchema(Schema):
    label = fields.String()
    state = fields.String(metadata={"description": "collected, missed, expected or optional"})


class DueVisitSchema(Schema):
    participant = fields.Function(lambda r: r.participant.code)
    site = fields.Function(lambda r: r.participant.site.code)
    timepoint = fields.Function(lambda r: r.visit.timepoint.code)
    state = fields.String(metadata={"description": "due, overdue or done"})
    planned_on = ParticipantDate(attribute="visit.planned_on", allow_none=True)
    window_start = ParticipantDate(attribute="visit.window_start", allow_none=True)
    window_end = ParticipantDate(attribute="visit.window_end", allow_none=True)
    actual_on = ParticipantDate(attribute="visit.actual_on", allow_none=True)
    planned_day = StudyDay("visit.planned_on", lambda r: r.participant)
    expected = fields.Integer()
    collected = fields.Integer()
    missed = fields.Integer()
    out_of_window = fields.Boolean()
    kit = fields.Function(lambda r: [{"label": label, "state": state} for label, state in r.lines])


class WorklistSchema(Schema):
    week_start = fields.Date()
    week_end = fields.Date()
    today = fields.Date()
    due = fields.List(fields.Nested(DueVisitSchema))
    overdue = fields.List(fields.Nested(DueVisitSchema))
    done = fields.List(fields.Nested(DueVisitSchema))
    truncated = fields.Boolean(metadata={"description": "A list was cut at 500 rows"})
