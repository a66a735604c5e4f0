"""Register the shipment pages, /api/v1/shipments and the navigation entry."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the shipment pages and API."""
    from lims.shipments.api import blp
    from lims.shipments.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/shipments")
    csrf.exempt(blp)
    app.config["NAV"].append(("shipments.index", "Shipments"))
