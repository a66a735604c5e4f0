"""Schemas of the printing pages and JSON API (one schema per operation, for forms and JSON alike)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from lims.labels.presets import DPIS
from lims.printing.models import CONNECTIONS, JOB_STATUSES, LANGUAGES

_ID = validate.Range(min=1, max=2**31 - 1)


class PrinterSchema(Schema):
    id = fields.Integer()
    site = fields.Function(lambda p: p.site.code)
    name = fields.String()
    bench = fields.String(allow_none=True)
    connection = fields.String(metadata={"description": "tcp (raw port 9100) or cups (a CUPS queue)"})
    language = fields.String(metadata={"description": "zpl or pdf"})
    host = fields.String(allow_none=True)
    port = fields.Integer(allow_none=True)
    queue = fields.String(allow_none=True)
    stock = fields.String(metadata={"description": "Label stock (zpl) or page layout (pdf)"})
    dpi = fields.Integer()
    active = fields.Boolean()
    address = fields.String()


class PrinterRefSchema(Schema):
    id = fields.Integer()
    site = fields.Function(lambda p: p.site.code)
    name = fields.String()
    bench = fields.String(allow_none=True)
    address = fields.String()


class PrinterUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=80))
    bench = fields.String(allow_none=True, validate=validate.Length(max=80))
    connection = fields.String(validate=validate.OneOf(CONNECTIONS))
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    host = fields.String(allow_none=True, validate=validate.Length(max=255))
    port = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=65535))
    queue = fields.String(allow_none=True, validate=validate.Length(max=127))
    stock = fields.String(validate=validate.Length(min=1, max=40))
    dpi = fields.Integer(validate=validate.OneOf(DPIS))
    active = fields.Boolean()


class PrinterCreateSchema(PrinterUpdateSchema):
    site = fields.String(required=True, validate=validate.Length(min=1, max=10))
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    connection = fields.String(required=True, validate=validate.OneOf(CONNECTIONS))
    language = fields.String(load_default="zpl", validate=validate.OneOf(LANGUAGES))
    stock = fields.String(required=True, validate=validate.Length(min=1, max=40))
    dpi = fields.Integer(required=True, validate=validate.OneOf(DPIS))


class PrintRequestSchema(Schema):
    """Print labels on a configured printer, or (without a printer, pages only) download them."""

    accession = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=list,
                            validate=validate.Length(max=2000),
                            metadata={"description": "Samples to label (accession IDs)"})
    unit = fields.List(fields.Integer(validate=_ID), load_default=list, validate=validate.Length(max=500),
                       metadata={"description": "Storage units to label (ids)"})
    printer = fields.Integer(load_default=None, validate=_ID,
                             metadata={"description": "A configured printer; without one, the file is "
                                                      "returned"})
    format = fields.String(load_default="pdf", validate=validate.OneOf(LANGUAGES),
                           metadata={"description": "Download format (ignored when a printer is given)"})
    layout = fields.String(load_default=None, validate=validate.Length(max=40),
                           metadata={"description": "Download: page layout (pdf) or label stock (zpl)"})
    dpi = fields.Integer(load_default=None, validate=validate.OneOf(DPIS),
                         metadata={"description": "Download: the resolution of the printer that will print "
                                                  "it"})
    start_position = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000),
                                    metadata={"description": "First free label on a partly used sheet"})
    reprint_reason = fields.String(load_default=None, validate=validate.Length(max=500),
                                   metadata={"description": "Required when a sample's label was printed "
                                                            "before"})

    @validates_schema
    def _one_subject(self, data: dict, **_: object) -> None:
        if bool(data.get("accession")) == bool(data.get("unit")):
            raise ValidationError("choose samples (accession) or storage units (unit) to label", "accession")


class ReprintSchema(Schema):
    reprint_reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class JobQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(JOB_STATUSES))
    printer = fields.Integer(load_default=None, validate=_ID)


class PrintJobSchema(Schema):
    id = fields.Integer()
    printer = fields.Nested(PrinterRefSchema)
    subject = fields.String()
    status = fields.String(metadata={"description": "queued, sending, sent or failed"})
    label_count = fields.Integer()
    start_position = fields.Integer()
    reprint_reason = fields.String(allow_none=True)
    created_by = fields.Function(lambda j: j.created_by.username if j.created_by else None)
    created_at = fields.DateTime()
    attempts = fields.Integer()
    sent_at = fields.DateTime(allow_none=True)
    layout = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True, metadata={"description": "The CUPS job id"})
    error = fields.String(allow_none=True)
    samples = fields.Function(lambda j: [i.sample.accession for i in j.items if i.sample is not None])
    units = fields.Function(lambda j: [i.unit.barcode for i in j.items if i.unit is not None])
