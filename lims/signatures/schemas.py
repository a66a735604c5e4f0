"""Marshmallow schemas for signature runs at the JSON edge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from lims.signatures import service
from lims.signatures.parameters import RunParametersSchema  # noqa: F401  (the JSON edge loads it)


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
        return {"original_id": check.original.id, "same_input": check.same_input,
                "identical": check.identical,
                "differences": check.differences}
