"""Worklist pages: visits due this week and overdue, and the sample grid with its CSV download."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, flash, render_template, request
from flask_login import current_user
from sqlalchemy import select

from lims import access
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.extensions import db
from lims.samples.models import STATUSES
from lims.studies.models import Site
from lims.studies.service import get_study
from lims.worklists import grid
from lims.worklists.visits import worklist

bp = Blueprint("worklists", __name__, url_prefix="/worklists")
GRID_FILTERS = ("participant", "timepoint", "sample_type", "status", "site", "location")


def _sites() -> list[Site]:
    return list(db.session.scalars(select(Site).where(access.visible_sites(current_user))
                                   .order_by(Site.code)))


@bp.get("/visits")
@login_required
def visits() -> Any:
    """List the visits due this week and overdue at the user's sites, with expected vs collected per kit."""
    study = get_study(db.session)
    day = None
    if request.args.get("week"):
        try:
            day = date.fromisoformat(request.args["week"])
        except ValueError:
            flash(f"{request.args['week']!r} is not a date (YYYY-MM-DD); showing this week", "error")
    site = request.args.get("site", "").strip() or None
    work = worklist(db.session, study, current_user, day=day, site=site)
    return render_template("worklists/visits.html", work=work, site=site or "", sites=_sites())


def _filters() -> dict[str, str]:
    return {name: request.args.get(name, "").strip() for name in GRID_FILTERS}


@bp.get("/samples")
@login_required
def samples() -> Any:
    """Search samples (participant, time point, type, status, location, site), paged in the database."""
    study = get_study(db.session)
    filters = _filters()
    number = max(request.args.get("page", 1, type=int) or 1, 1)
    size = current_app.config["PAGE_SIZE"]
    try:
        rows, total, paths = grid.page(db.session, current_user, filters, number=number, size=size)
    except DomainError as exc:
        flash(exc.message, "error")
        rows, total, paths = [], 0, {}
    return render_template("worklists/samples.html", study=study, rows=rows, total=total, paths=paths,
                           filters=filters, page=number, pages=max((total + size - 1) // size, 1),
                           sites=_sites(), statuses=STATUSES)


@bp.get("/samples.csv")
@login_required
def samples_csv() -> Any:
    """Download the sample grid's selection as CSV (formula cells neutralised)."""
    try:
        text = "".join(grid.csv_lines(db.session, current_user, _filters()))
    except DomainError as exc:
        return Response(f"{exc.message}\n", status=400, mimetype="text/plain")
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="samples.csv"'})
