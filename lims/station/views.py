"""The scan station page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template

from lims.core.auth import login_required
from lims.labels.symbols import code128_svg
from lims.samples.accession import make_accession
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



# A test ID for the scanner-setup page: valid, never issued (serial 9,999,999), with Y/Z-sensitive letters
# nowhere but the hyphens and digits a wrong keyboard layout changes.
TEST_ACCESSION = make_accession(9_999_999, "TB")


@bp.get("/setup")
@login_required
def setup() -> Any:
    """Scanner setup: scan a test label and see every key the scanner sent (hex) and what to change."""
    return render_template("station/setup.html", test_accession=TEST_ACCESSION)


@bp.get("/setup/test-label.svg")
@login_required
def test_label() -> Any:
    """Return the Code128 test barcode of the scanner-setup page."""
    return Response(code128_svg(TEST_ACCESSION), mimetype="image/svg+xml")
