"""Register the results pages and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the trial endpoints, associations, runs and marker report pages, and /api/v1/results."""
    from lims.results.api import blp
    from lims.results.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/results")
    csrf.exempt(blp)
    app.config["NAV"].append(("results.endpoints", "Trial endpoints"))
    app.config["NAV"].append(("results.associations", "Associations"))
