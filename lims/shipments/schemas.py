"""Schemas of the shipments and consent JSON API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lims.core.fields import Number
from lims.shipments.models import CONDITIONS, STATUSES

CODE = fields.String(required=True, validate=validate.Length(min=1, max=64),
                     metadata={"description": "A scanned accession ID, or a box barcode (packs the whole "
                                              "box)"})


class ShipmentQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class ShipmentCreateSchema(Schema):
    from_site = fields.String(required=True, validate=validate.Length(min=1, max=10))
    to_site = fields.String(load_default=None, validate=validate.Length(max=10))
    destination = fields.String(load_default=None, validate=validate.Length(max=200),
                                metadata={"description": "Name of an outside lab (when to_site is empty)"})
    conditions = fields.String(required=True, validate=validate.OneOf(CONDITIONS))
    courier = fields.String(load_default=None, validate=validate.Length(max=100))
    tracking_number = fields.String(load_default=None, validate=validate.Length(max=100))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class ShipmentItemSchema(Schema):
    accession = fields.String()
    participant = fields.String(attribute="participant_code")
    sample_type = fields.String(attribute="sample_type_code")
    parent = fields.String(attribute="parent_accession", allow_none=True)
    quantity = fields.Float(allow_none=True)
    unit = fields.String()
    box = fields.String(attribute="box_barcode", allow_none=True)
    from_location = fields.String(allow_none=True)
    state = fields.String()
    damage = fields.String(allow_none=True)


class ConditionsSchema(Schema):
    conditions = fields.String(required=True, validate=validate.OneOf(CONDITIONS))
    courier = fields.String(load_default=None, validate=validate.Length(max=100))
    tracking_number = fields.String(load_default=None, validate=validate.Length(max=100))


class ShipmentSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    origin = fields.String()
    status = fields.String()
    from_site = fields.Function(lambda s: s.from_site.code)
    to_site = fields.Function(lambda s: s.to_site.code if s.to_site else None)
    destination = fields.String(allow_none=True)
    conditions = fields.String()
    courier = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    arrival_temp_c = fields.Float(allow_none=True)
    manifest_sha256 = fields.String(allow_none=True)
    manifest_key = fields.Function(lambda s: s.manifest_key.fingerprint if s.manifest_key else None,
                                   allow_none=True,
                                   metadata={"description": "Fingerprint of the partner key an imported "
                                                            "manifest was signed with"})
    item_count = fields.Function(lambda s: len(s.items))


class ShipmentDetailSchema(ShipmentSchema):
    items = fields.List(fields.Nested(ShipmentItemSchema))
    unexpected = fields.List(fields.Dict())


class PackScanSchema(Schema):
    code = CODE


class PackedSchema(Schema):
    added = fields.List(fields.String())
    shipment = fields.Nested(ShipmentDetailSchema)


class ShipmentReceiveSchema(Schema):
    scans = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                        validate=validate.Length(max=5000),
                        metadata={"description": "Every code scanned on arrival"})
    damaged = fields.Dict(keys=fields.String(validate=validate.Length(max=64)),
                          values=fields.String(validate=validate.Length(max=500)), load_default=dict,
                          metadata={"description": "Accession -> what is wrong with it"})
    arrival_temp_c = Number(load_default=None, validate=validate.Range(min=-273, max=80))


class LateReceiptSchema(Schema):
    """An item that was missing at receipt and turned up later."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    damage = fields.String(load_default=None, validate=validate.Length(max=500))


class ReconciliationSchema(Schema):
    shipment = fields.String()
    received = fields.List(fields.String())
    damaged = fields.List(fields.Dict())
    missing = fields.List(fields.String())
    unexpected = fields.List(fields.Dict())
    arrival_temp_c = fields.Float(allow_none=True)
    not_registered = fields.List(fields.String())
    complete = fields.Boolean()


class ReleaseSchema(Schema):
    """The electronic signature a release needs."""

    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "The releasing lab manager's password, re-entered"})
    meaning = fields.String(load_default="approved",
                            validate=validate.OneOf(("approved", "reviewed", "performed")))


class ManifestKeyCreateSchema(Schema):
    """A partner installation's public key to trust for the manifests it signs."""

    installation = fields.String(required=True, validate=validate.Length(min=1, max=80), metadata={
        "description": "The sending installation's name, as its manifests give it (\"instance\")"})
    public_key = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "Its Ed25519 public key: base64 of the 32 raw bytes, or a PEM block"})
    fingerprint = fields.String(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "The fingerprint the partner gave separately (phone, letter): must match the key"})


class ManifestKeySchema(Schema):
    id = fields.Integer()
    installation = fields.String()
    public_key = fields.String()
    fingerprint = fields.String()
    state = fields.String(metadata={"description": "trusted or revoked"})
    registered_at = fields.DateTime()
    registered_by = fields.Function(lambda k: k.registered_by.username if k.registered_by else None,
                                    allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revoked_by = fields.Function(lambda k: k.revoked_by.username if k.revoked_by else None, allow_none=True)


class InstallationKeySchema(Schema):
    """This installation's manifest signing key, public half: what partner sites register."""

    installation = fields.String()
    algorithm = fields.String()
    public_key = fields.String(metadata={"description": "Base64 of the 32 raw bytes"})
    public_key_pem = fields.String()
    fingerprint = fields.String(metadata={"description": "SHA-256 of the raw public key; the manifests' "
                                                         "key_id"})
