"""The manifest file, field by field: what another installation may send, checked before anything is stored.

Two layers: the envelope (``content``, its ``sha256`` and the ``signature``) and the content itself, which is
loaded only after the signature was verified. A refusal names the item (counted from 1), the field, the value
and the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from lims.samples import accession as accession_ids
from lims.samples.models import UNITS
from lims.shipments.models import CONDITIONS

MANIFEST_FORMAT = "trialbank-manifest/2"
UNSIGNED_FORMATS = ("trialbank-manifest/1",)
MAX_ITEMS = 10_000
MAX_QUANTITY = 1_000_000.0
HEX64 = validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lower-case hex digits")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def _single_line(value: str) -> None:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError("must be one line of text without control characters")


def _text(max_length: int, *, required: bool = True, **kwargs: Any) -> fields.String:
    """A one-line text field of at most ``max_length`` characters; optional ones must still be present."""
    length = validate.Length(min=1 if required and not kwargs.get("allow_none") else 0, max=max_length)
    return fields.String(required=required, validate=[length, _single_line], **kwargs)


class Quantity(fields.Float):
    """A JSON number (not text, not true/false), finite and between 0 and MAX_QUANTITY."""

    # marshmallow declares the messages as a class attribute that subclasses extend
    default_error_messages = {"not_number": "must be a number, not {kind}"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, validate=validate.Range(min=0, max=MAX_QUANTITY), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("not_number", kind=type(value).__name__ if value is not None else "null")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("must be a finite number (not NaN or infinity)")
        return super()._deserialize(value, attr, data, **kwargs)


class Accession(fields.String):
    """An accession ID in its printed form, whose check character is right."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > accession_ids.PRINTED_LENGTH:
            raise ValidationError(f"an accession ID has {accession_ids.PRINTED_LENGTH} characters, this has "
                                  f"{len(text)}")
        try:
            printed = accession_ids.validate(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if printed != text:
            raise ValidationError(f"write it in its printed form {printed}")
        return printed


class ReleasedAt(fields.AwareDateTime):
    """An ISO 8601 date-time with its time zone, after 2000 and not in the future."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's class attribute, extended by subclasses)
        "invalid": "not an ISO 8601 date-time (e.g. 2025-03-04T09:15:00+00:00)",
        "invalid_awareness": "has no time zone; write it as e.g. 2025-03-04T09:15:00+00:00",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        when = super()._deserialize(value, attr, data, **kwargs)
        if when < EARLIEST or when > datetime.now(UTC) + timedelta(days=1):
            raise ValidationError("is not a plausible release time (before 2000 or in the future)")
        return when


class ManifestSignatureSchema(Schema):
    algorithm = fields.String(required=True, validate=validate.OneOf(("ed25519",)))
    key_id = fields.String(required=True, validate=HEX64,
                           metadata={"description": "Fingerprint of the signing key (SHA-256 of its raw "
                                                    "bytes)"})
    value = fields.String(required=True, validate=validate.Length(min=1, max=128),
                          metadata={
                              "description": "Base64 Ed25519 signature of the content's canonical JSON"})


class ManifestSchema(Schema):
    """A manifest file: its content, the content's SHA-256 and the sending installation's signature."""

    content = fields.Dict(required=True, metadata={
        "description": f"The manifest ({MANIFEST_FORMAT}): format, instance, study, shipment, items, "
                       "csv_sha256"})
    sha256 = fields.String(required=True, validate=HEX64,
                           metadata={"description": "SHA-256 of the content's canonical JSON"})
    signature = fields.Nested(ManifestSignatureSchema, load_default=None,
                              metadata={"description": "Required on import: unsigned manifests are refused"})


class ManifestShipmentSchema(Schema):
    code = fields.String(required=True, validate=[validate.Length(min=1, max=40), validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9._-]*$", error="may hold only letters, digits, '.', '_' and '-'")])
    from_site = _text(10)
    to_site = _text(10, allow_none=True)
    destination = _text(200, allow_none=True)
    conditions = fields.String(required=True, validate=validate.OneOf(CONDITIONS))
    courier = _text(100, allow_none=True)
    tracking_number = _text(100, allow_none=True)
    released_at = ReleasedAt(required=True, format="iso")
    released_by = _text(80, allow_none=True)

    @validates_schema
    def _goes_somewhere(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("to_site") and not data.get("destination"):
            raise ValidationError("name the receiving site (to_site) or lab (destination)", "to_site")
        if data.get("to_site") and data["to_site"].upper() == data["from_site"].upper():
            raise ValidationError("a shipment cannot go to the site it leaves from", "to_site")


class ManifestItemSchema(Schema):
    accession = Accession(required=True)
    participant = _text(20)
    sample_type = _text(40)
    parent = Accession(required=True, allow_none=True,
                       metadata={"description": "Accession of the sample it was derived from; null for a "
                                                "primary"})
    quantity = Quantity(required=True, allow_none=True)
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))
    box = _text(40, allow_none=True)
    from_location = _text(2000, allow_none=True)


class ManifestContentSchema(Schema):
    format = fields.String(required=True, validate=validate.Equal(
        MANIFEST_FORMAT, error=f"is not {MANIFEST_FORMAT}, the format this installation reads"))
    instance = _text(80)
    study = _text(40)
    shipment = fields.Nested(ManifestShipmentSchema, required=True)
    items = fields.List(fields.Nested(ManifestItemSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_ITEMS, error="must list 1 to {max} samples"))
    csv_sha256 = fields.String(required=True, validate=HEX64)

    @validates_schema
    def _each_sample_once(self, data: dict[str, Any], **_: Any) -> None:
        first: dict[str, int] = {}
        for n, item in enumerate(data["items"]):
            if item["accession"] in first:
                raise ValidationError({"items": {n: {"accession": [
                    f"{item['accession']} is listed twice (also item {first[item['accession']] + 1})"]}}})
            first[item["accession"]] = n


@dataclass(frozen=True)
class Problem:
    """One reason a manifest was refused: where (item number from 1, field), the value and why."""

    field: str
    reason: str
    item: int | None = None
    accession: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = f"item {self.item}" + (f" ({self.accession})" if self.accession else "") if self.item else ""
        if self.field and self.field != "item":
            where = f"{where}, {self.field}" if where else self.field
        shown = f" = {self.value}" if self.value is not None else ""
        return f"{where}{shown}: {self.reason}" if where else self.reason

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "accession": self.accession, "field": self.field, "value": self.value,
                "reason": self.reason}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _walk(messages: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(messages, dict):
        return [pair for key, sub in messages.items() for pair in _walk(sub, (*path, key))]
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(path, m) for m in messages]
    if isinstance(messages, list):
        return [pair for sub in messages for pair in _walk(sub, path)]
    return [(path, str(messages))]


def _lookup(data: Any, path: tuple[Any, ...]) -> tuple[bool, Any]:
    for key in path:
        in_dict = isinstance(data, dict) and isinstance(key, str) and key in data
        in_list = isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data)
        if not (in_dict or in_list):
            return False, None
        data = data[key]
    return True, data


def problems_from(exc: ValidationError, data: Any, *, prefix: tuple[str, ...] = ()) -> list[Problem]:
    """Turn marshmallow's nested messages into problems naming the item, the field and the value sent."""
    problems = []
    for path, reason in _walk(exc.messages, ()):
        path = tuple(p for p in path if p != "_schema")
        found, value = _lookup(data, path)
        shown = _show(value) if found and reason != "Missing data for required field." else None
        if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
            _, item = _lookup(data, path[:2])
            accession = item.get("accession") if isinstance(item, dict) else None
            field = ".".join(str(p) for p in path[2:]) or "item"
            problems.append(Problem(field, reason, item=path[1] + 1,
                                    accession=accession if isinstance(accession, str) and len(accession) <= 20
                                    else None, value=shown if path[2:] else None))
        else:
            problems.append(Problem(".".join(str(p) for p in (*prefix, *path)) or "manifest", reason,
                                    value=shown))
    return problems
