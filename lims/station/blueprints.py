"""Register the scan station page, its JSON API and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add /station and /api/v1/station."""
    from lims.station.api import blp
    from lims.station.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/station")
    csrf.exempt(blp)
    app.config["NAV"].append(("station.index", "Scan station"))
