"""Marshmallow schemas for analysis runs at the JSON edge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from lims.markers.models import CATEGORIES
from lims.results import report, service
from lims.results.data import COVARIATES, OUTCOMES


class RunParametersSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(list(OUTCOMES)),
                            metadata={"description": "ccr, pcr, mpr, dfs_a, dfs_b, os or efs"})
    timepoint = fields.String(load_default="BASELINE", validate=validate.Length(min=1, max=40))
    sample_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    category = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CATEGORIES),
                             metadata={"description": "Marker set: one catalogue category (all when empty)"})
    markers = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list,
                          validate=validate.Length(max=2000))
    transform = fields.String(load_default="log2", validate=validate.OneOf(list(service.TRANSFORMS)))
    cut = fields.String(load_default="none", validate=validate.OneOf(list(service.CUTS)))
    covariates = fields.List(fields.String(validate=validate.OneOf(list(COVARIATES))), load_default=list)
    pseudocount = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0),
                               metadata={"description": "Added to every value before a log transform; "
                                                        "without it a marker with zeros is skipped (with a "
                                                        "note)"})
    landmark = fields.Float(load_default=None, allow_none=True,
                            validate=validate.Range(min=0, max=service.MAX_LANDMARK_DAYS),
                            metadata={"description": "Days after the time origin (survival outcomes)"})
    allow_post_baseline = fields.Boolean(
        load_default=False,
        metadata={"description": "Analyse markers collected after the time origin from the origin anyway "
                                 "(guarantee-time bias; every output says so). Without it such markers need "
                                 "a landmark"})


class ResultRowSchema(Schema):
    marker = fields.String()
    n = fields.Integer()
    events = fields.Integer()
    effect = fields.Float(allow_none=True)
    lower = fields.Float(allow_none=True)
    upper = fields.Float(allow_none=True)
    p = fields.Float(allow_none=True)
    q = fields.Float(allow_none=True)
    coef = fields.Float(allow_none=True)
    se = fields.Float(allow_none=True)
    cutpoint = fields.Float(allow_none=True, metadata={"description": "On the transformed scale (cut runs)"})
    n_high = fields.Float(allow_none=True)
    statistic = fields.Float(allow_none=True)
    converged = fields.Boolean()
    note = fields.String(allow_none=True,
                         metadata={"description": "Why a marker has no or an infinite estimate"})


class RunSchema(Schema):
    id = fields.Integer()
    by_username = fields.String()
    at = fields.DateTime()
    parameters = fields.Dict()
    dataset_sha256 = fields.String(metadata={"description": "SHA-256 of the input frame written as CSV"})
    dataset_rows = fields.Integer()
    n_markers = fields.Integer()
    software_version = fields.String()
    effect = fields.Function(lambda run: run.result.get("effect", ""), metadata={"description": "HR or OR"})
    conditions = fields.Function(lambda run: report.conditions(run.parameters, run.result.get("timing")))
    excluded = fields.Function(lambda run: run.result.get("excluded", {}))
    results = fields.Method("_results")

    def _results(self, run: Any) -> list[dict[str, Any]]:
        return ResultRowSchema(many=True).dump(service.result_rows(run))


class RerunSchema(Schema):
    run_id = fields.Function(lambda check: check.run.id)
    dataset_sha256 = fields.String()
    same_input = fields.Boolean()
    identical = fields.Boolean()
    max_abs_difference = fields.Float(allow_none=True)
