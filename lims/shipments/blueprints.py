"""Register the shipment and consent pages, /api/v1/shipments, /api/v1/consent and the navigation entry."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the shipment and consent pages and APIs."""
    from lims.shipments.api import blp, consent_blp
    from lims.shipments.consent_views import bp as consent_bp
    from lims.shipments.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(consent_bp)
    api.register_blueprint(blp, url_prefix="/api/v1/shipments")
    api.register_blueprint(consent_blp, url_prefix="/api/v1/consent")
    csrf.exempt(blp)
    csrf.exempt(consent_blp)
    app.config["NAV"].append(("shipments.index", "Shipments"))
