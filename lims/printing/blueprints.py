"""Register the printing pages, /api/v1/printing, the navigation entry and the print-form helpers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

from lims.extensions import csrf


def register(app: Flask, api: Api) -> None:
    """Add the printing pages and API, and template globals for the print forms of earlier domains."""
    from lims.printing.api import blp
    from lims.printing.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp, url_prefix="/api/v1/printing")
    csrf.exempt(blp)
    app.config["NAV"].append(("printing.jobs", "Printing"))

    @app.template_global("label_printers")
    def label_printers(site_id: int | None = None) -> list[Any]:
        """Return the active printers the current user may print on (those of ``site_id`` first)."""
        from flask_login import current_user

        from lims import access
        from lims.extensions import db
        from lims.printing.printers import printers_at

        found = printers_at(db.session, access.site_ids(current_user))
        return sorted(found, key=lambda p: p.site_id != site_id)

    @app.template_global("label_print_counts")
    def label_print_counts(samples: list[Any]) -> dict[int, int]:
        """Return how many labels each of ``samples`` has had printed (custody), for the label forms."""
        from lims.extensions import db
        from lims.printing.service import print_counts

        return print_counts(db.session, samples) if samples else {}

    @app.template_global("label_layouts")
    def label_layouts() -> dict[str, Any]:
        """Return the download choices: page layouts, label stocks and resolutions."""
        from lims.labels.presets import DEFAULT_LAYOUT, DEFAULT_STOCK, DPIS, PRESETS, STOCKS

        sheet = app.config.get("LABEL_SHEET") or {"preset": DEFAULT_LAYOUT}
        zpl = app.config.get("LABEL_ZPL") or {}
        default = f"PDF {sheet.get('name') or sheet.get('preset')}, ZPL {zpl.get('stock', DEFAULT_STOCK)}"
        return {"layouts": sorted(PRESETS), "stocks": list(STOCKS), "dpis": DPIS, "default": default}
