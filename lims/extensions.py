"""Extensions, created unbound and initialised in :func:`lims.create_app`."""

from __future__ import annotations

import threading
from typing import Any

from flask_login import LoginManager
from flask_smorest import Api
from flask_wtf import CSRFProtect

from lims.core.database import Database


class LimsApi(Api):
    """flask-smorest Api with one error body everywhere (code, status, message, errors) and ``Allow`` on
    405, whose OpenAPI document is written when it is first read.

    flask-smorest documents a blueprint's views (every schema turned into JSON Schema) as it registers the
    blueprint: over a tenth of ``create_app()``'s time, for a document only /api/v1/openapi.json, the Swagger
    page and ``lims openapi`` read. Here the blueprint is registered at once and documented, in the same
    order, on the first read of ``spec`` (issue 17.4).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[Any, str, Any]] = []  # (blueprint, name, url prefix parameters)
        self._documenting = threading.Lock()
        self._documenter: int | None = None  # the thread writing the document (it reads the spec as it goes)
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> Any:
        if self._undocumented and self._documenter != threading.get_ident():
            with self._documenting:  # another first reader waits for the whole document
                self._documenter = threading.get_ident()
                try:
                    while self._undocumented:  # emptied only when the last one is in: others wait
                        blp, name, parameters = self._undocumented[0]
                        blp.register_views_in_doc(self, self._app, self._spec, name=name,
                                                  parameters=parameters)
                        self._spec.tag({"name": name, "description": blp.description})
                        self._undocumented.pop(0)
                finally:
                    self._documenter = None
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value
        self._undocumented = []  # a new app's spec: the blueprints of the one before are not documented in it

    def register_converter(self, converter: Any, func: Any) -> None:
        """Document the URL converter in paths (flask-smorest's, without writing the pending documents)."""
        self._converters.append((converter, func))
        if self._spec is not None:
            self._register_converter(converter, func)

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """Register ``blp`` in the app now; its views join the OpenAPI document when ``spec`` is read."""
        # flask-smorest's Api.register_blueprint, with the documenting left to the ``spec`` property
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

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
