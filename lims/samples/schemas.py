"""Marshmallow schemas for samples and their custody at the JSON edge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from lims.access.fields import ParticipantDateTime, StudyDay
from lims.core.fields import Date, LocalDateTime, Number
from lims.core.vocabulary import FIELDS
from lims.samples.models import DERIVATIONS, STATUSES, UNITS
from lims.samples.preanalytics import (
    COLLECTION_CODES,
    FIXATION_CODES,
    RANGES,
    STORAGE_CONTAINERS,
    TISSUE_CONTAINERS,
)

LOCAL_TIME = ("Time of day; without a UTC offset it is read as the study's local time (setting 'timezone'), "
              "with one (e.g. +08:00 or Z) as given. Stored in UTC.")


def _number(name: str) -> Any:
    """A pre-analytical number field, limited to what equipment can do (lims.samples.preanalytics.RANGES)."""
    low, high, unit = RANGES[name]
    return Number(load_default=None, validate=validate.Range(min=low, max=high),
                  metadata={"description": f"{FIELDS[name]}: {low:g} to {high:g} {unit}"})


def _time(name: str) -> Any:
    return fields.DateTime(load_default=None, metadata={"description": f"{FIELDS[name]}. {LOCAL_TIME}"})


class SampleQuerySchema(Schema):
    participant = fields.String(load_default=None, validate=validate.Length(max=20))
    timepoint = fields.String(load_default=None, validate=validate.Length(max=40))
    sample_type = fields.String(load_default=None, validate=validate.Length(max=40))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    derivation = fields.String(load_default=None, validate=validate.OneOf(DERIVATIONS))
    site = fields.String(load_default=None, validate=validate.Length(max=10),
                         metadata={"description": "Code of the site that holds the samples now"})


class SampleSchema(Schema):
    accession = fields.String(allow_none=True)
    participant = fields.Function(lambda s: s.participant.code)
    site = fields.Function(lambda s: s.site.code,
                           metadata={"description": "The site that holds the sample now"})
    participant_site = fields.Function(lambda s: s.participant.site.code,
                                       metadata={"description": "The site where the participant is enrolled"})
    timepoint = fields.Function(lambda s: s.visit.timepoint.code if s.visit else None, allow_none=True)
    sample_type = fields.Function(lambda s: s.sample_type.code)
    container = fields.Function(lambda s: s.container_type.code if s.container_type else None,
                                allow_none=True)
    derivation = fields.String()
    parent = fields.Function(lambda s: s.parent.accession if s.parent else None, allow_none=True)
    status = fields.String()
    quantity = fields.Float(allow_none=True)
    unit = fields.String()
    freeze_thaw_count = fields.Integer()
    missed_reason = fields.String(allow_none=True)
    collected_at = ParticipantDateTime(allow_none=True, metadata={
        "description": "Collection time (UTC); null unless your role may see exact dates (dates.exact)"})
    collected_day = StudyDay("collected_at", lambda s: s.participant)


class CustodyEventSchema(Schema):
    seq = fields.Integer()
    action = fields.String()
    at = ParticipantDateTime(allow_none=True,
                             metadata={"description": "null unless your role may see exact dates"})
    user = fields.Function(lambda e: e.user.username if e.user else None, allow_none=True)
    site_code = fields.String(allow_none=True)
    from_location = fields.String(allow_none=True)
    to_location = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    details = fields.Dict()
    corrects_id = fields.Integer(allow_none=True)
    hash = fields.String(attribute="mac")  # the event MAC in its sample chain (name kept for API clients)


class SampleDetailSchema(SampleSchema):
    sprec = fields.String(allow_none=True)
    children = fields.Function(lambda s: [c.accession for c in s.children])
    custody = fields.List(fields.Nested(CustodyEventSchema))


class YieldSchema(Schema):
    sample_type = fields.String(required=True, validate=validate.Length(min=1, max=40),
                                metadata={
                                    "description": "Sample type code of the product, e.g. CTDNA_PLASMA"})
    count = fields.Integer(required=True, validate=validate.Range(min=1, max=200))
    volume = Number(required=True, validate=validate.Range(min=0, min_inclusive=False, max=1e12),
                    metadata={"description": "Amount of each product, in unit"})
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))


class ProcessSchema(Schema):
    """Process a primary tube: the products and the raw pre-analytical values (page and API alike)."""

    yields = fields.List(fields.Nested(YieldSchema), required=True, validate=validate.Length(min=1, max=20))
    consume = fields.Boolean(load_default=False, metadata={"description": "The primary tube is used up"})
    processing_started_at = _time("processing_started_at")
    precentrifugation_temp_c = _number("precentrifugation_temp_c")
    spin1_g = _number("spin1_g")
    spin1_min = _number("spin1_min")
    spin1_temp_c = _number("spin1_temp_c")
    spin1_brake = fields.Boolean(load_default=None, allow_none=True)
    spin2_g = _number("spin2_g")
    spin2_min = _number("spin2_min")
    spin2_temp_c = _number("spin2_temp_c")
    spin2_brake = fields.Boolean(load_default=None, allow_none=True)
    last_spin_ended_at = _time("last_spin_ended_at")
    postspin_temp_c = _number("postspin_temp_c")
    frozen_at = _time("frozen_at")
    storage_temp_c = _number("storage_temp_c")
    storage_container = fields.String(load_default=None, validate=validate.OneOf(STORAGE_CONTAINERS))
    storage_via_minus80 = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "For liquid nitrogen: stored at -80 °C first (true) or straight into nitrogen "
                       "(false)"})


class ProcessedSchema(Schema):
    parent = fields.String()
    made = fields.List(fields.Nested(SampleSchema))
    labels = fields.String(metadata={"description": "Where to print the labels of the new samples (POST)"})


class TissueSchema(Schema):
    """A tissue specimen's pre-analytics: collection, warm and cold ischaemia, fixation, storage.

    Which fields must be given comes from the protocol (sample type ``preanalytics``), checked by the service.
    """

    collection_type = fields.String(load_default=None, validate=validate.OneOf(COLLECTION_CODES),
                                    metadata={"description": "SPREC type of collection (SRG surgical, "
                                                             "BPS biopsy...)"})
    clamped_at = fields.DateTime(load_default=None, metadata={
        "description": "Vascular clamping, start of warm ischaemia (surgical specimens). " + LOCAL_TIME})
    excised_at = fields.DateTime(load_default=None, metadata={
        "description": "Excision: end of warm, start of cold ischaemia. " + LOCAL_TIME})
    fixation_type = fields.String(load_default=None, validate=validate.OneOf(FIXATION_CODES),
                                  metadata={"description": "SPREC fixation (NBF formalin, SNP snap "
                                                           "frozen...)"})
    fixation_started_at = fields.DateTime(load_default=None, metadata={
        "description": "Start of fixation or freezing: end of cold ischaemia. " + LOCAL_TIME})
    fixation_ended_at = fields.DateTime(load_default=None, metadata={
        "description": "End of fixation (fixed specimens only). " + LOCAL_TIME})
    storage_temp_c = _number("storage_temp_c")
    storage_container = fields.String(load_default=None, validate=validate.OneOf(TISSUE_CONTAINERS))
    storage_via_minus80 = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "For liquid nitrogen: stored at -80 °C first (true) or straight into nitrogen "
                       "(false)"})


class VisitRegistrationSchema(Schema):
    """The visit of a registration: the day it took place (its kit tubes are :class:`KitEntrySchema`)."""

    actual_on = Date(required=True, error_messages={"required": "give the visit date (YYYY-MM-DD)",
                                                    "invalid": "{input!r} is not a date (YYYY-MM-DD)"})


class KitEntrySchema(Schema):
    """One expected tube of a visit's kit as recorded: collected (when, how much) or missed (why).

    Whether the values make sense for the tube (a time on the visit's day, an amount near the kit's) is
    checked by ``lims.samples.accessioning.register_visit``.
    """

    state = fields.String(load_default=None, validate=validate.OneOf(
        ("collected", "missed"), error="{input!r} is not a tube state: choose collected or missed"))
    collected_at = LocalDateTime(load_default=None,
                                 metadata={"description": "Collection time. " + LOCAL_TIME})
    quantity = Number(load_default=None, metadata={"description": "Amount collected, in the kit item's unit"})
    missed_reason = fields.String(load_default=None, validate=validate.Length(max=500))
    haemolysed = fields.Boolean(load_default=False)
