"""Schemas of the scan station's JSON endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lims.station.service import MODES

MODE = fields.String(required=True, validate=validate.OneOf(MODES),
                     metadata={"description": "What the scan does: " + ", ".join(MODES)})
TEXT = fields.String(load_default=None, validate=validate.Length(max=500),
                     metadata={"description": "Purpose (check out) or reason (dispose, thaw)"})
CODE = fields.String(required=True, validate=validate.Length(min=1, max=64),
                     metadata={"description": "The scanned or typed accession ID"})


class ScanSchema(Schema):
    code = CODE
    mode = MODE
    text = TEXT


class CheckSchema(ScanSchema):
    batch = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list,
                        validate=validate.Length(max=2000),
                        metadata={"description": "Codes already in the batch"})


class BatchSchema(Schema):
    codes = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                        validate=validate.Length(min=1, max=2000))
    mode = MODE
    text = TEXT


class SampleFactsSchema(Schema):
    accession = fields.String()
    participant = fields.String()
    site = fields.String(metadata={"description": "The site that holds the sample now"})
    participant_site = fields.String(metadata={"description": "The site where the participant is enrolled"})
    timepoint = fields.String(allow_none=True)
    sample_type = fields.String()
    status = fields.String()
    status_label = fields.String(metadata={"description": "The status in words, for people"})
    quantity = fields.Float(allow_none=True)
    unit = fields.String()
    freeze_thaw_count = fields.Integer()
    sprec = fields.String(allow_none=True)
    location = fields.String(allow_none=True)


class ScanResultSchema(Schema):
    ok = fields.Boolean()
    mode = fields.String()
    code = fields.String()
    message = fields.String()
    sample = fields.Nested(SampleFactsSchema, allow_none=True)


class BatchResultSchema(Schema):
    applied = fields.Integer()
    results = fields.List(fields.Nested(ScanResultSchema))


class DiagnoseSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(max=200),
                         metadata={"description": "The characters the scanner typed (suffix keys included or "
                                                  "not)"})
    suffix = fields.String(load_default=None, validate=validate.OneOf(("Enter", "Tab")),
                           metadata={"description": "The key that ended the scan, if the page saw one"})


class KeySchema(Schema):
    char = fields.String()
    hex = fields.String(metadata={"description": "Unicode code point in hexadecimal"})
    name = fields.String()


class DiagnosisSchema(Schema):
    received = fields.String()
    keys = fields.List(fields.Nested(KeySchema))
    suffix = fields.String(allow_none=True)
    symbology = fields.String(allow_none=True, metadata={"description": "AIM symbology identifier, if sent"})
    accession = fields.String(allow_none=True, metadata={"description": "The accession ID read, if valid"})
    problem = fields.String(allow_none=True)
    advice = fields.List(fields.String())
