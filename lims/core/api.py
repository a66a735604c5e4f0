"""Helpers every domain's JSON API shares."""

from __future__ import annotations

from typing import Any

from flask import Request, Response, jsonify
from flask_smorest import Blueprint, Page
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from lims.extensions import db


class SelectPage(Page):
    """Paginate a SQLAlchemy ``select()`` in the database: count once, fetch only the page's rows."""

    @property
    def item_count(self) -> int:
        return db.session.scalar(select(func.count())
                                 .select_from(self.collection.order_by(None).subquery())) or 0

    @property
    def items(self) -> list[Any]:
        return list(db.session.scalars(page_of(self.collection, self.page_params)))


MAX_OFFSET = 2**62  # SQLite and PostgreSQL offsets are signed 64-bit: a page beyond this is empty anyway


def page_of(stmt: Any, params: Any) -> Any:
    """Limit ``stmt`` to one page; an absurd page number gives an empty page, not a database error."""
    if params.first_item >= MAX_OFFSET:
        return stmt.limit(0)
    return stmt.limit(params.page_size).offset(params.first_item)


class ErrorSchema(Schema):
    """The one error body every endpoint answers with."""

    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    errors = fields.Dict()


def refused_schema(report_schema: type[Schema]) -> type[Schema]:
    """Document a 422 that carries a report: the standard error body plus ``report``."""
    return type(f"Refused{report_schema.__name__}", (ErrorSchema,), {
        "report": fields.Nested(report_schema,
                                metadata={"description": "Every problem found; nothing was written"}),
        "__module__": report_schema.__module__,
    })


def refused(report: dict[str, Any], message: str) -> Response:
    """Answer a refused import: the standard 422 error body with the full report attached.

    A ready Response, so the success schema of the view does not reshape it.
    """
    response = jsonify({"code": 422, "status": "Unprocessable Entity", "message": message, "errors": {},
                        "report": report})
    response.status_code = 422
    return response


# A multipart body holds files and form fields together; flask-smorest documents one request body per
# operation, so one schema reads both (``@blp.arguments(Schema, location=MULTIPART)``).
MULTIPART = "multipart"
Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING[MULTIPART] = "multipart/form-data"


@Blueprint.ARGUMENTS_PARSER.location_loader(MULTIPART)
def _load_multipart(request: Request, schema: Schema) -> MultiDictProxy:
    return MultiDictProxy(CombinedMultiDict([request.form, request.files]), schema)


def exclusive_bounds(self: Any, field: fields.Field, **_: Any) -> dict[str, Any]:
    """Document a Range that excludes its bounds (OpenAPI 3.0: ``exclusiveMinimum: true``); apispec omits
    it."""
    out: dict[str, Any] = {}
    for validator in field.validators:
        if isinstance(validator, validate.Range):
            if validator.min is not None and not validator.min_inclusive:
                out["exclusiveMinimum"] = True
            if validator.max is not None and not validator.max_inclusive:
                out["exclusiveMaximum"] = True
    return out
