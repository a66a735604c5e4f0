"""Schemas of the storage JSON API."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from lims.core.fields import Date
from lims.storage.models import KINDS


class UnitQuerySchema(Schema):
    site = fields.String(load_default=None, validate=validate.Length(max=10))
    parent_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1),
                               metadata={"description": "Only units directly inside this one"})
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))


class UnitSchema(Schema):
    id = fields.Integer()
    site: fields.Field = fields.Function(lambda u: u.site.code)
    parent_id = fields.Integer(allow_none=True)
    kind = fields.String()
    name = fields.String()
    barcode = fields.String()
    set_temp_c = fields.Float(allow_none=True)
    rows = fields.Integer(allow_none=True)
    cols = fields.Integer(allow_none=True)
    box_type = fields.String(allow_none=True)
    allowed_types = fields.String(allow_none=True)
    capacity = fields.Integer(allow_none=True)
    label_scheme = fields.String()
    version = fields.Integer(metadata={"description": "Send back as 'version' when moving (compare-and-set)"})


class UnitCreateSchema(Schema):
    site = fields.String(load_default=None, validate=validate.Length(max=10))
    parent_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    barcode = fields.String(required=True, validate=validate.Length(min=1, max=40))
    set_temp_c = fields.Float(load_default=None, validate=validate.Range(min=-273, max=100))
    rows = fields.Integer(load_default=None, validate=validate.Range(min=1, max=26))
    cols = fields.Integer(load_default=None, validate=validate.Range(min=1, max=99))
    box_type = fields.String(load_default=None, validate=validate.Length(max=40))
    allowed_types = fields.String(load_default=None, validate=validate.Length(max=400))
    capacity = fields.Integer(load_default=None, validate=validate.Range(min=1, max=100_000))
    label_scheme = fields.String(load_default="A1", validate=validate.OneOf(("A1", "1")))


class StorageUsageSchema(Schema):
    capacity = fields.Integer()
    used = fields.Integer()
    free = fields.Integer(allow_none=True)
    unbounded = fields.Boolean()


class BoxPositionSchema(Schema):
    position = fields.String()
    row = fields.Integer()
    col = fields.Integer()
    accession = fields.String(allow_none=True)
    sample_type = fields.String(allow_none=True)
    status = fields.String(allow_none=True)


class UnitDetailSchema(UnitSchema):
    site = fields.String()
    path = fields.String()
    usage = fields.Nested(StorageUsageSchema)
    children = fields.List(fields.Nested(UnitSchema))
    positions = fields.List(fields.Nested(BoxPositionSchema), allow_none=True,
                            metadata={"description": "Every grid position of a box, empty ones included"})
    samples = fields.List(fields.String(),
                          metadata={"description": "Accessions kept loose in a non-grid container"})


class PlaceTubeSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "The scanned or typed accession ID"})
    position = fields.String(load_default=None, validate=validate.Length(max=5),
                             metadata={"description": "Position such as B3; empty for the next free one"})
    version = fields.Integer(load_default=None, validate=validate.Range(min=0, max=2**31 - 1),
                             metadata={"description": "Placement version you saw (moves of placed samples)"})


class PlacedTubeSchema(Schema):
    accession = fields.String()
    unit_id = fields.Integer()
    barcode = fields.String()
    position = fields.String(allow_none=True)
    action = fields.String()
    path = fields.String()


class UnitMoveSchema(Schema):
    into = fields.String(required=True, validate=validate.Length(min=1, max=40),
                         metadata={"description": "Barcode of the unit to move into"})
    version = fields.Integer(load_default=None, validate=validate.Range(min=0, max=2**31 - 1),
                             metadata={"description": "The unit's version you saw"})


class UnitMovedSchema(Schema):
    unit = fields.Nested(UnitSchema)
    path = fields.String()
    samples_moved = fields.Integer()


class SampleLocationSchema(Schema):
    accession = fields.String()
    path = fields.String(allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    position = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)


class StorageSuggestionSchema(Schema):
    accession = fields.String()
    unit_id = fields.Integer(allow_none=True)
    barcode = fields.String(allow_none=True)
    position = fields.String(allow_none=True)
    reason = fields.String()


class RetentionQuerySchema(Schema):
    on = Date(load_default=None, metadata={"description": "Review date (default today)"})


class RetentionSchema(Schema):
    accession = fields.Function(lambda r: r.sample.accession)
    sample_type = fields.Function(lambda r: r.sample.sample_type.code)
    participant = fields.Function(lambda r: r.sample.participant.code)
    status = fields.Function(lambda r: r.sample.status)
    years = fields.Integer()
    due_on = fields.Date()
    location = fields.String(allow_none=True)


class RackFileSchema(Schema):
    file = Upload(required=True, metadata={"description": "The rack reader's file (CSV or text)"})


class RackScanFormSchema(Schema):
    numbering = fields.String(load_default="row", validate=validate.OneOf(("row", "column")), metadata={
        "description": "How the reader numbers positions given as running numbers: row by row (A1, A2...) "
                       "or column by column (A1, B1...)"})


class RackApplyFormSchema(RackScanFormSchema):
    fingerprint = fields.String(required=True, validate=validate.Length(equal=64), metadata={
        "description": "The fingerprint of the comparison you reviewed (from the comparison answer)"})


class RackLineSchema(Schema):
    position = fields.String()
    state = fields.String(metadata={"description": "match, moved, missing, unknown, no_read or empty"})
    scanned = fields.String(allow_none=True, metadata={"description": "What the reader read at the position"})
    expected = fields.String(allow_none=True,
                             metadata={"description": "What the box map has at the position"})
    note = fields.String()
    line = fields.Integer(allow_none=True, metadata={"description": "Line of the file"})


class RackDiffSchema(Schema):
    box = fields.Function(lambda d: d.unit.barcode)
    vendor = fields.Function(lambda d: d.rack.vendor)
    rack_barcode = fields.Function(lambda d: d.rack.rack_barcode, allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    lines = fields.List(fields.Nested(RackLineSchema))
    moves = fields.Function(lambda d: len(d.moves),
                            metadata={"description": "Tubes that applying would place"})
    blockers = fields.List(fields.String(), metadata={"description": "Why applying is refused, if it is"})
    fingerprint = fields.String(metadata={"description": "Send it back to apply exactly this comparison"})


class RackAppliedSchema(Schema):
    applied = fields.Integer()
    comparison = fields.Nested(RackDiffSchema)


class BulkPlacedSchema(Schema):
    placed = fields.Integer()
