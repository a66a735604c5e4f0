"""Register the sample pages (and the participant page, which lists samples)."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    """Add the sample page and the participant page."""
    from lims.samples.views import bp, participant_bp

    app.register_blueprint(bp)
    app.register_blueprint(participant_bp)
