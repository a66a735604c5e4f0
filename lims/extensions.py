"""Extensions, created unbound and initialised in :func:`lims.create_app`."""

from __future__ import annotations

from flask_login import LoginManager
from flask_smorest import Api
from flask_wtf import CSRFProtect

from lims.core.database import Database


class LimsApi(Api):
    """flask-smorest Api with one error body everywhere (code, status, message, errors) and ``Allow`` on
    405."""

    def _register_pagination_header(self) -> None:
        # X-Pagination carries a JSON object: documented as JSON content, not as an OpenAPI "simple" object
        # (which would be serialised "total,3,page,1").
        from flask_smorest.pagination import PaginationMetadataSchema

        self.spec.components.header("PAGINATION", {
            "description": "Pagination metadata (a JSON object)",
            "content": {"application/json": {"schema": PaginationMetadataSchema}}}, lazy=True)

    def handle_http_exception(self, error):
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        payload.setdefault("errors", {})
        if getattr(error, "valid_methods", None):
            headers = {**headers, "Allow": ", ".join(error.valid_methods)}
        return payload, code, headers


db = Database()
api = LimsApi()
login_manager = LoginManager()
csrf = CSRFProtect()
