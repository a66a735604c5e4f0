"""Register the signatures pages, /api/v1/signatures and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add /signatures (model runs for PIs and researchers) and its JSON API."""
    from lims.signatures.api import blp
    from lims.signatures.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/signatures")
    csrf.exempt(blp)
    app.config["NAV"].append(("signatures.index", "Signatures"))
