"""Participant list with search (the participant page, which shows samples, lives in samples.views)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from lims.core.auth import login_required
from lims.core.errors import NotFound
from lims.extensions import db
from lims.participants import service
from lims.studies.service import get_study

bp = Blueprint("participants", __name__, url_prefix="/participants")


@bp.get("/")
@login_required
def index() -> Any:
    """List participants, searchable by code and filterable by site and stratum."""
    try:
        study = get_study(db.session)
    except NotFound:
        return render_template("participants/list.html", study=None, participants=[], total=0, page=1,
                               pages=1, q="", site="", stratum="")
    q = request.args.get("q", "").strip()
    site = request.args.get("site", "").strip()
    stratum = request.args.get("stratum", "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    size = current_app.config["PAGE_SIZE"]
    stmt = service.search_query(study, q=q, site=site or None, stratum=stratum or None, user=current_user)
    total = service.count(db.session, stmt)
    participants = db.session.scalars(stmt.limit(size).offset((page - 1) * size)).all()
    return render_template(
        "participants/list.html", study=study, participants=participants, total=total, page=page,
        pages=max((total + size - 1) // size, 1), q=q, site=site, stratum=stratum,
    )
