"""The scan station page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from lims.core.auth import login_required
from lims.station.service import MODES

bp = Blueprint("station", __name__, url_prefix="/station")

MODE_LABELS = {
    "lookup": "Look up", "receive": "Receive", "check_out": "Check out", "check_in": "Check in",
    "thaw": "Thaw", "dispose": "Dispose",
}


@bp.get("/")
@login_required
def index() -> Any:
    """Show the scan field, the mode selector and the feedback panel."""
    return render_template("station/scan.html", modes=[(m, MODE_LABELS[m]) for m in MODES])

