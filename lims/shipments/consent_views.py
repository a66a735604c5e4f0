"""Consent withdrawal page (one action) and the disposal list of quarantined samples."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lims.core.auth import login_required
from lims.core.errors import DomainError, NotFound
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.participants import service as participants_service
from lims.shipments.consent import disposal_list, withdraw_consent

bp = Blueprint("consent", __name__, url_prefix="/consent")


@bp.route("/<code>/withdraw", methods=["GET", "POST"])
@permission_required("consent.withdraw")
def withdraw(code: str) -> Any:
    """Record a consent withdrawal: every remaining sample is quarantined and listed for disposal."""
    try:
        participant = participants_service.get_by_code(db.session, code)
    except NotFound as exc:
        abort(404, description=exc.message)
    problem = None
    if request.method == "POST":
        try:
            on = date.fromisoformat(request.form.get("on", ""))
        except ValueError:
            problem = "give the withdrawal date (YYYY-MM-DD)"
        else:
            try:
                result = withdraw_consent(db.session, participant, on=on, reason=request.form.get("reason", ""),
                                          by=current_user)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                problem = exc.message
            else:
                flash(f"Consent of {participant.code} withdrawn on {on.isoformat()}: {len(result.quarantined)} "
                      "samples quarantined and listed for disposal.", "info")
                return redirect(url_for("consent.disposal", participant=participant.code))
    samples = disposal_list(db.session, participant=participant) if participant.withdrawn else []
    return render_template("consent/withdraw.html", participant=participant, problem=problem, rows=samples,
                           today=date.today(), form=request.form), (400 if problem else 200)


@bp.get("/disposal")
@login_required
def disposal() -> Any:
    """List quarantined samples awaiting disposal, with the reason and where each one is."""
    code = request.args.get("participant", "").strip()
    participant = None
    if code:
        try:
            participant = participants_service.get_by_code(db.session, code)
        except NotFound as exc:
            abort(404, description=exc.message)
    return render_template("consent/disposal.html", rows=disposal_list(db.session, participant=participant),
                           participant=participant)
