"""Register the consent withdrawal page and /api/v1/consent."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the consent page and API."""
    from lims.consent.api import blp
    from lims.consent.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/consent")
    csrf.exempt(blp)
