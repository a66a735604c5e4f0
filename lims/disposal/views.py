"""Disposal pages: requests awaiting a signed decision, and quarantined samples awaiting disposal."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from lims import access
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.forms import first_error, load_form
from lims.core.permissions import permission_required
from lims.core.uow import refuse
from lims.disposal import service
from lims.disposal.schemas import DecisionSchema
from lims.extensions import db
from lims.participants import service as participants_service

bp = Blueprint("disposal", __name__, url_prefix="/disposal")


@bp.route("/requests", methods=["GET", "POST"])
@permission_required("disposal.approve")
def requests() -> Any:
    """List pending disposal requests; approve or reject the chosen ones under one e-signature."""
    scope = access.visible_samples(current_user)
    if request.method == "POST":
        try:
            data = load_form(DecisionSchema(), request.form)
            decided, _signature = service.decide(
                db.session, data["request"], approve=data["decision"] == "approve", by=current_user,
                password=data["password"], meaning=data["meaning"], note=data.get("note"), where=scope)
        except ValidationError as exc:
            refuse(first_error(exc))
        except DomainError as exc:
            refuse(exc.message)
        else:
            verb = "Approved and disposed" if data["decision"] == "approve" else "Rejected"
            flash(f"{verb}: {len(decided)} sample(s). Signed by {current_user.full_name}.", "info")
        return redirect(url_for("disposal.requests"))
    return render_template("disposal/requests.html", requests=service.pending(db.session, where=scope))


@bp.get("/")
@login_required
def quarantined() -> Any:
    """List quarantined samples awaiting disposal, with the reason and where each one is."""
    code = request.args.get("participant", "").strip()
    participant = participants_service.get_by_code(db.session, code, user=current_user) if code else None
    rows = service.awaiting_disposal(db.session, participant=participant,
                                     where=access.visible_samples(current_user))
    return render_template("disposal/quarantined.html", rows=rows, participant=participant)
