"""Register the disposal pages and /api/v1/disposal."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the disposal pages and API."""
    from lims.disposal.api import blp
    from lims.disposal.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/disposal")
    csrf.exempt(blp)
