"""The scan station page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.samples import disposal
from lims.station import service
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


@bp.route("/disposals", methods=["GET", "POST"])
@permission_required("disposal.approve")
def disposals() -> Any:
    """List pending disposal requests; approve or reject the chosen ones under one e-signature."""
    if request.method == "POST":
        ids = [int(x) for x in request.form.getlist("request") if x.isdigit()]
        approve = request.form.get("decision") == "approve"
        try:
            n = service.decide_disposals(db.session, ids, approve=approve, user=current_user,
                                         password=request.form.get("password", ""),
                                         meaning=request.form.get("meaning", ""), note=request.form.get("note"))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(f"{'Approved and disposed' if approve else 'Rejected'}: {n} sample(s). Signed by "
                  f"{current_user.full_name}.", "info")
        return redirect(url_for("station.disposals"))
    return render_template("station/disposals.html", requests=disposal.pending(db.session))
