"""Marshmallow schemas of the clinical JSON API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate
from werkzeug.datastructures import FileStorage

from lims.access.fields import ParticipantDate
from lims.core.fields import Date, File


class ClinicalVariantQuerySchema(Schema):
    variant = fields.String(load_default=None, validate=validate.OneOf(["A", "B"]),
                            metadata={"description": "DFS/EFS variant; the study's default when omitted"})


class ClinicalImportFormSchema(Schema):
    format = fields.String(load_default="redcap", validate=validate.OneOf(["redcap", "tables"]),
                           metadata={"description": "redcap: one flat export (+ mapping); tables: "
                                                    "<table>.csv files"})
    password = fields.String(required=True, load_only=True,
                             metadata={"description": "The importer's password: the import is signed "
                                                      "electronically"})
    meaning = fields.String(load_default="performed",
                            validate=validate.OneOf(["approved", "reviewed", "performed"]))


class ClinicalImportUploadSchema(ClinicalImportFormSchema):
    """The multipart body of an import: the form fields and the files together."""

    files: fields.List[FileStorage] = fields.List(File(), required=True,
                                                  validate=validate.Length(min=1, max=20))
    mapping = File(load_default=None, metadata={"description": "Mapping file (YAML) for a REDCap export"})


class ClinicalIssueSchema(Schema):
    file = fields.String()
    row = fields.Integer(allow_none=True)
    field = fields.String()
    value = fields.String(allow_none=True)
    reason = fields.String()


class ClinicalImportReportSchema(Schema):
    format = fields.String()
    files = fields.List(fields.String())
    applied = fields.Boolean()
    run_id = fields.Integer(allow_none=True)
    records = fields.Integer()
    inserted = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    changes = fields.Integer(metadata={"description": "Values written to the audit trail"})
    problems = fields.List(fields.Nested(ClinicalIssueSchema))
    warnings = fields.List(fields.Nested(ClinicalIssueSchema),
                           metadata={"description": "Data queries, not blocking"})


class ClinicalImportRunSchema(Schema):
    id = fields.Integer()
    format = fields.String()
    filenames = fields.List(fields.String())
    at = fields.DateTime()
    by = fields.Function(lambda run: run.by.username if run.by else None,
                         metadata={"description": "None: imported by the REDCap API sync"})
    inserted = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()


class ClinicalEndpointSchema(Schema):
    """Derived endpoints of one participant (analysis.endpoints.derive)."""

    participant_id = fields.String()
    site = fields.String(allow_none=True)
    stratum = fields.String(allow_none=True)
    enrol_date = ParticipantDate(allow_none=True)
    rand_date = ParticipantDate(allow_none=True)
    ccr_cre1 = fields.Boolean(allow_none=True)
    evaluable = fields.Boolean(allow_none=True)
    cre1_date = ParticipantDate(allow_none=True)
    resected = fields.Boolean(allow_none=True)
    resection_date = ParticipantDate(allow_none=True)
    resection_intent = fields.String(allow_none=True)
    r_status = fields.String(allow_none=True)
    pcr = fields.Boolean(allow_none=True)
    mpr = fields.Boolean(allow_none=True)
    trg_system = fields.String(allow_none=True)
    trg_grade = fields.String(allow_none=True)
    trg_source = fields.String(allow_none=True)
    os_time = fields.Integer(allow_none=True)
    os_event = fields.Boolean(allow_none=True)
    os_rand_time = fields.Integer(allow_none=True)
    os_rand_event = fields.Boolean(allow_none=True)
    dfs_time = fields.Integer(allow_none=True)
    dfs_event = fields.Boolean(allow_none=True)
    dfs_event_type = fields.String(allow_none=True)
    dfs_t0 = fields.String(allow_none=True)
    efs_time = fields.Integer(allow_none=True)
    efs_event = fields.Boolean(allow_none=True)
    efs_event_type = fields.String(allow_none=True)
    first_failure = fields.String(allow_none=True)
    first_failure_date = fields.Date(allow_none=True)
    variant = fields.String()


class ClinicalTimelineMarkSchema(Schema):
    lane = fields.String()
    date = ParticipantDate(allow_none=True)
    day = fields.Integer(allow_none=True, metadata={"description": "Study day (day 1 = enrolment)"})
    end = ParticipantDate(allow_none=True)
    end_day = fields.Integer(allow_none=True)
    label = fields.String()
    kind = fields.String()


class ClinicalQoLScoresSchema(Schema):
    qlq_c30 = fields.List(fields.Dict(), data_key="QLQ-C30")
    fact_e = fields.List(fields.Dict(), data_key="FACT-E")


class ClinicalQueryArgsSchema(Schema):
    site = fields.String(load_default=None, validate=validate.Length(max=10))
    as_of = Date(load_default=None, metadata={"description": "Reference date for overdue items; today"})


class ClinicalDataQuerySchema(Schema):
    site = fields.String()
    participant = fields.String()
    kind = fields.String(metadata={"description": "inconsistency|missing|window|after death|SAE"})
    table = fields.String()
    field = fields.String()
    value = fields.String(allow_none=True)
    reason = fields.String()
