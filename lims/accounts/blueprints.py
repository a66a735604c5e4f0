"""Register the accounts pages."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    """Add login and logout."""
    from lims.accounts.views import bp

    app.register_blueprint(bp)
