"""Marshmallow schemas for the marker catalogue, results, import reports and export queries."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from lims.core.fields import Boolean, File
from lims.markers.export import DEFAULT_OUTCOMES, FORMATS, FORMS, ExportQuery
from lims.markers.models import CATEGORIES, TRANSFORMS


class MarkerSchema(Schema):
    code = fields.String(required=True, validate=[
        validate.Length(min=1, max=60),
        validate.Regexp(r"^[^\s|]+$", error="code is required: up to 60 characters, no spaces")])
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.OneOf(
        CATEGORIES, error="category must be one of {choices}"))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=20))
    assay = fields.String(load_default="", validate=validate.Length(max=200))
    platform = fields.String(load_default="", validate=validate.Length(max=200))
    specimen_types = fields.List(fields.String(validate=validate.Length(max=40)), required=True,
                                 validate=validate.Length(min=1))
    lod = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    lloq = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    uloq = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    transform = fields.String(load_default="none", validate=validate.OneOf(
        TRANSFORMS, error="transform must be one of {choices}"))
    description = fields.String(load_default="", validate=validate.Length(max=4000))


class ResultQuerySchema(Schema):
    marker = fields.String(load_default=None, validate=validate.Length(max=60))
    accession = fields.String(load_default=None, validate=validate.Length(max=20))
    participant = fields.String(load_default=None, validate=validate.Length(max=20))
    import_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    remeasurements_only = Boolean(load_default=False)


class ResultSchema(Schema):
    id = fields.Integer()
    accession = fields.String()
    participant_id = fields.String(metadata={"description": "Pseudonymous study ID"})
    marker = fields.String()
    value = fields.Float(allow_none=True)
    unit = fields.String()
    qualifier = fields.String(allow_none=True)
    original_value = fields.Float(allow_none=True)
    original_unit = fields.String(allow_none=True)
    replicate = fields.Integer()
    remeasurement = fields.Boolean()
    run_id = fields.String(allow_none=True)
    batch_id = fields.String(allow_none=True)
    plate_id = fields.String(allow_none=True)
    assay_date = fields.Date(allow_none=True)
    operator = fields.String(allow_none=True)
    import_id = fields.Integer(allow_none=True)


class ProblemSchema(Schema):
    file = fields.String()
    row = fields.Integer(allow_none=True)
    column = fields.String(allow_none=True)
    value = fields.String(allow_none=True)
    reason = fields.String()
    rule = fields.String(allow_none=True, metadata={"description": "the row rule that refused the row"})


class ImportReportSchema(Schema):
    ok = fields.Boolean()
    filename = fields.String()
    layout = fields.String()
    rows = fields.Integer()
    results = fields.Integer()
    remeasurements = fields.Integer()
    converted = fields.Integer()
    qualified = fields.Integer()
    problem_count = fields.Integer()
    problems = fields.List(fields.Nested(ProblemSchema))
    import_id = fields.Integer(allow_none=True)


class UploadSchema(Schema):
    file = File(required=True)


class ExportQuerySchema(Schema):
    """One schema for the export form, the JSON API and the CLI's options."""

    markers = fields.List(fields.String(validate=validate.Length(max=60)), load_default=list)
    timepoints = fields.List(fields.String(validate=validate.Length(max=40)), load_default=list)
    sample_types = fields.List(fields.String(validate=validate.Length(max=40)), load_default=list)
    participants = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list)
    strata = fields.List(fields.String(validate=validate.Length(max=40)), load_default=list)
    outcomes = fields.List(fields.String(validate=validate.Length(max=60)),
                           load_default=lambda: list(DEFAULT_OUTCOMES))
    form = fields.String(load_default="long", validate=validate.OneOf(FORMS))
    format = fields.String(load_default="csv", validate=validate.OneOf(FORMATS))
    dates = Boolean(load_default=False)
    dfs_variant = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["A", "B"]))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ExportQuery:
        return ExportQuery(**data)
