"""Register the participant pages, API and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the participant list page and /api/v1/participants."""
    from lims.participants.api import blp
    from lims.participants.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/participants")
    csrf.exempt(blp)
    app.config["NAV"].append(("participants.index", "Participants"))
