"""The consent withdrawal page: one action that quarantines every remaining sample."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from lims import access
from lims.consent.schemas import WithdrawSchema
from lims.consent.withdrawal import withdraw_consent
from lims.core.errors import DomainError
from lims.core.forms import first_error, load_form
from lims.core.permissions import permission_required
from lims.disposal.service import awaiting_disposal
from lims.extensions import db
from lims.participants import service as participants_service

bp = Blueprint("consent", __name__, url_prefix="/consent")


@bp.route("/<code>/withdraw", methods=["GET", "POST"])
@permission_required("consent.withdraw")
def withdraw(code: str) -> Any:
    """Record a consent withdrawal: every remaining sample is quarantined and listed for disposal."""
    participant = participants_service.get_by_code(db.session, code, user=current_user)
    problem = None
    if request.method == "POST":
        try:
            data = load_form(WithdrawSchema(), request.form)
            result = withdraw_consent(db.session, participant, on=data["on"], reason=data["reason"],
                                      by=current_user)
        except ValidationError as exc:
            problem = first_error(exc)
        except DomainError as exc:
            problem = exc.message
        else:
            flash(f"Consent of {participant.code} withdrawn on {result.on.isoformat()}: "
                  f"{len(result.quarantined)} samples quarantined and listed for disposal.", "info")
            return redirect(url_for("disposal.quarantined", participant=participant.code))
    rows = (awaiting_disposal(db.session, participant=participant, where=access.visible_samples(current_user))
            if participant.withdrawn else [])
    today = access.local_today(access.study_zone(participant.study))
    return render_template("consent/withdraw.html", participant=participant, problem=problem, rows=rows,
                           today=today, form=request.form), (400 if problem else 200)
