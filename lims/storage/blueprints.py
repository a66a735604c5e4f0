"""Register the storage pages, /api/v1/storage and the navigation entry."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the storage pages and API."""
    import lims.storage.bulk_views  # noqa: F401 - adds the rack, bulk and export pages to the storage blueprint
    from lims.storage.api import blp
    from lims.storage.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/storage")
    csrf.exempt(blp)
    app.config["NAV"].append(("storage.index", "Storage"))

    @app.template_global("location_path")
    def location_path(sample_id: int) -> str | None:
        """Return a sample's full storage path for templates of earlier domains (the sample page)."""
        from lims.extensions import db
        from lims.storage.service import location_path as path

        return path(db.session, sample_id)
