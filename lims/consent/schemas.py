"""Schemas of the consent edge: a withdrawal in, what it did out."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lims.core.fields import Date


class WithdrawSchema(Schema):
    """A consent withdrawal: when, and why."""

    on = Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000), error_messages={
        "required": "say why consent is withdrawn (e.g. 'participant request, letter of 2026-10-02')"})


class WithdrawalSchema(Schema):
    """What a withdrawal did: the participant's samples that are now quarantined."""

    participant = fields.Function(lambda w: w.participant.code)
    on = fields.Date()
    reason = fields.String()
    quarantined = fields.Function(lambda w: [s.accession for s in w.quarantined])
