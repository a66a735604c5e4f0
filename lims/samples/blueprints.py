"""Register the sample pages (and the participant page, which lists samples)."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the sample page and the participant page."""
    from lims.samples.api import blp
    from lims.samples.views import bp, participant_bp

    app.register_blueprint(bp)
    app.register_blueprint(participant_bp)
    api.register_blueprint(blp, url_prefix="/api/v1/samples")
    csrf.exempt(blp)
