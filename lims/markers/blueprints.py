"""Register the marker pages, the /api/v1/markers API and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the marker pages and /api/v1/markers."""
    from lims.markers.api import MarkerCode, blp
    from lims.markers.views import bp

    app.url_map.converters["marker_code"] = MarkerCode
    api.register_converter(MarkerCode, lambda _c: {"type": "string", "minLength": 1, "maxLength": 60})

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/markers")
    csrf.exempt(blp)
    app.config["NAV"].append(("markers.index", "Markers"))
