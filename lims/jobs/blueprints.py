"""Register the queue, the job pages and /api/v1/jobs."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Attach the queue and add the job pages and API."""
    from lims.jobs import queue
    from lims.jobs.api import blp
    from lims.jobs.views import bp

    queue.init_app(app)
    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/jobs")
    csrf.exempt(blp)
