"""Marshmallow schemas for signature runs at the JSON edge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from analysis.signatures.spec import PENALTIES, TRANSFORMS
from lims.core.fields import Boolean
from lims.markers.models import CATEGORIES
from lims.results.data import COVARIATES
from lims.signatures import service


class RunParametersSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(list(service.OUTCOMES)),
                            metadata={"description": ", ".join(service.OUTCOMES)})
    timepoint = fields.String(load_default="BASELINE", validate=validate.Length(min=1, max=40))
    sample_types = fields.List(fields.String(validate=validate.Length(min=1, max=40)), required=True,
                               validate=validate.Length(min=1, max=20),
                               metadata={"description": "Markers of several sample types form one panel"})
    category = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CATEGORIES))
    markers = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list,
                          validate=validate.Length(max=2000),
                          metadata={"description": "Marker codes (empty: every marker measured at the time point)"})
    covariates = fields.List(fields.String(validate=validate.OneOf(list(COVARIATES))), load_default=list,
                             metadata={"description": "Forced baseline covariates, never penalised"})
    transform = fields.String(load_default="log2", validate=validate.OneOf(list(TRANSFORMS)))
    penalty = fields.String(load_default="l1", validate=validate.OneOf(list(PENALTIES)))
    mode = fields.String(load_default="quick", validate=validate.OneOf(list(service.MODES)),
                         metadata={"description": "; ".join(m["label"] for m in service.MODES.values())})
    outer_folds = fields.Integer(load_default=5, validate=validate.Range(min=2, max=10))
    inner_folds = fields.Integer(load_default=4, validate=validate.Range(min=2, max=10))
    ccr_only = Boolean(load_default=False, metadata={"description": "Only cCR participants (pCR, MPR)"})
    thresholds = fields.List(fields.Float(validate=validate.Range(min=0, max=1, min_inclusive=False,
                                                                  max_inclusive=False)),
                             load_default=lambda: list(service.DEFAULT_THRESHOLDS), validate=validate.Length(max=12))


class RunSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "queued, running, done or failed"})
    by_username = fields.String()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    rerun_of_id = fields.Integer(allow_none=True)
    parameters = fields.Dict()
    conditions = fields.Function(lambda run: service.conditions(run.parameters))
    error = fields.String(allow_none=True)
    dataset_sha256 = fields.String(allow_none=True)
    dataset_rows = fields.Integer(allow_none=True)
    seeds = fields.List(fields.Integer(), allow_none=True)
    auc = fields.Function(lambda run: (run.result or {}).get("auc"))
    cindex = fields.Function(lambda run: (run.result or {}).get("cindex"))
    permutation_p = fields.Function(lambda run: (run.result or {}).get("permutation_p"))


class RunDetailSchema(RunSchema):
    spec = fields.Dict(allow_none=True)
    versions = fields.Dict(allow_none=True)
    result = fields.Dict(allow_none=True, metadata={"description": "Everything the validation produced"})
    comparison = fields.Method("_comparison")

    def _comparison(self, run: Any) -> dict[str, Any] | None:
        from lims.extensions import db

        check = service.compare(db.session, run)
        if check is None:
            return None
        return {"original_id": check.original.id, "same_input": check.same_input, "identical": check.identical,
                "differences": check.differences}
