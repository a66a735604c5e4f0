"""Register the results pages and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    """Add the trial endpoints, associations, runs and marker report pages."""
    from lims.results.views import bp

    app.register_blueprint(bp)
    app.config["NAV"].append(("results.endpoints", "Trial endpoints"))
    app.config["NAV"].append(("results.associations", "Associations"))
