"""Marshmallow schemas for analysis runs at the JSON edge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from lims.results import report, service


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
