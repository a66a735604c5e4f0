"""Schemas of the disposal edge."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class AwaitingDisposalSchema(Schema):
    """A quarantined sample waiting to be disposed."""

    accession = fields.Function(lambda r: r.sample.accession)
    participant = fields.Function(lambda r: r.sample.participant.code)
    sample_type = fields.Function(lambda r: r.sample.sample_type.code)
    reason = fields.String()
    location = fields.String(allow_none=True)


class DecisionSchema(Schema):
    """Approve or reject disposal requests under one electronic signature."""

    request = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)), required=True,
                          validate=validate.Length(min=1, max=10000))
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    meaning = fields.String(load_default="approved",
                            validate=validate.OneOf(("approved", "reviewed", "performed")))
    note = fields.String(load_default=None, validate=validate.Length(max=1000))
