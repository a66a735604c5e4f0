"""Register the signatures pages and navigation."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    """Add /signatures (model runs for PIs and researchers)."""
    from lims.signatures.views import bp

    app.register_blueprint(bp)
    app.config["NAV"].append(("signatures.index", "Signatures"))
