"""Register the audit trail page."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    """Add /audit."""
    from lims.audit.views import bp

    app.register_blueprint(bp)
    app.config["NAV"].append(("audit.index", "Audit"))
