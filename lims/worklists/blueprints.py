"""Register the worklist pages, /api/v1/worklists and the navigation entries."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add /worklists and /api/v1/worklists."""
    from lims.worklists.api import blp
    from lims.worklists.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/worklists")
    csrf.exempt(blp)
    app.config["NAV"].append(("worklists.visits", "Worklist"))
    app.config["NAV"].append(("worklists.samples", "Samples"))
