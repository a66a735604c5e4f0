"""Register the clinical pages, API and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add /clinical pages and /api/v1/clinical."""
    from lims.clinical.api import blp
    from lims.clinical.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/clinical")
    csrf.exempt(blp)
    app.config["NAV"].append(("clinical.index", "Clinical"))
