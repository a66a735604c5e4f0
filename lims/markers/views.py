"""Marker pages: catalogue (data managers edit and import it), results list, results import, dataset
export."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from lims import access
from lims.core.auth import login_required
from lims.core.errors import DomainError, NotFound
from lims.core.forms import load_form
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.jobs.models import Job
from lims.markers import service
from lims.markers.api import result_dict
from lims.markers.export import DEFAULT_OUTCOMES, FORMATS, FORMS, parse_list
from lims.markers.importer import ImportFailed
from lims.markers.jobs import export_or_queue, import_or_queue
from lims.markers.models import CATEGORIES, TRANSFORMS
from lims.markers.schemas import ExportQuerySchema, MarkerSchema
from lims.studies.service import get_study

bp = Blueprint("markers", __name__, url_prefix="/markers")


@bp.get("/")
@login_required
def index() -> Any:
    """Show the marker catalogue."""
    return render_template("markers/catalogue.html", markers=service.list_markers(db.session))


@bp.get("/catalogue.csv")
@login_required
def catalogue_csv() -> Any:
    """Download the catalogue as CSV (the format the catalogue import reads)."""
    return Response(service.catalogue_csv(db.session), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="marker-catalogue.csv"'})


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<code>/edit", methods=["GET", "POST"])
@permission_required("markers.manage")
def edit(code: str | None = None) -> Any:
    """Add or edit a catalogue entry."""
    marker = None
    if code is not None:
        try:
            marker = service.get_marker(db.session, code)
        except NotFound:
            abort(404, description=f"No marker {code!r}.")
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        values = {**request.form.to_dict(), "specimen_types": request.form.getlist("specimen_types")}
        try:
            marker = service.save_marker(db.session, load_form(MarkerSchema(), request.form), marker=marker,
                                         by=current_user)
            flash(f"Saved marker {marker.code}.", "success")
            return redirect(url_for("markers.index"))
        except ValidationError as exc:
            errors = exc.messages  # type: ignore[assignment]
        except DomainError as exc:
            errors = {exc.field or "form": [exc.message]}
    study = _study()
    return render_template("markers/edit.html", marker=marker, errors=errors, values=values,
                           categories=CATEGORIES, transforms=TRANSFORMS,
                           sample_types=[t.code for t in study.sample_types] if study
                           else []), (400 if errors else 200)


@bp.post("/catalogue/import")
@permission_required("markers.manage")
def import_catalogue() -> Any:
    """Create or update catalogue entries from a CSV (all or nothing)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a catalogue CSV file.", "error")
        return redirect(url_for("markers.index"))
    try:
        count = service.import_catalogue(db.session, upload.read(), filename=upload.filename, by=current_user)
    except ImportFailed as exc:
        return render_template("markers/report.html", report=exc.report,
                               title="Catalogue import refused"), 422
    flash(f"Catalogue import: {count} marker(s) saved.", "success")
    return redirect(url_for("markers.index"))


@bp.route("/import", methods=["GET", "POST"])
@permission_required("markers.import")
def import_page() -> Any:
    """Upload a results file: long CSV or wide CSV/XLSX; nothing is stored unless every row passes."""
    if request.method == "GET":
        return render_template("markers/import.html")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a results file (CSV or XLSX).", "error")
        return render_template("markers/import.html"), 400
    content = upload.read()
    try:
        report = import_or_queue(db.session, content, filename=upload.filename, by=current_user)
    except ImportFailed as exc:
        return render_template("markers/report.html", report=exc.report, title="Import refused"), 422
    if isinstance(report, Job):
        return redirect(url_for("jobs.detail", job_id=report.id))
    return render_template("markers/report.html", report=report, title="Import accepted")


@bp.get("/results")
@login_required
def results() -> Any:
    """List results (filter by marker, accession, participant), newest first."""
    args = {k: request.args.get(k, "").strip() for k in ("marker", "accession", "participant")}
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    size = current_app.config["PAGE_SIZE"]
    stmt = service.results_query(db.session, marker=args["marker"] or None,
                                 accession=args["accession"] or None, participant=args["participant"] or None,
                                 where=access.visible_samples(current_user))
    total = service.count(db.session, stmt)
    rows = [result_dict(r) for r in db.session.execute(stmt.limit(size).offset((page - 1) * size))]
    return render_template("markers/results.html", rows=rows, total=total, page=page,
                           pages=max((total + size - 1) // size, 1), args=args,
                           markers=service.list_markers(db.session))


def _study() -> Any:
    try:
        return get_study(db.session)
    except NotFound:
        return None


@bp.route("/export", methods=["GET", "POST"])
@permission_required("export.dataset")
def export() -> Any:
    """Pick markers, time points, sample types, participants/strata and outcomes; download the dataset zip."""
    study = _study()
    if study is None:
        abort(404, description="No study is installed yet.")
    options = {"markers": service.list_markers(db.session), "study": study, "outcomes": DEFAULT_OUTCOMES,
               "forms": FORMS, "formats": FORMATS, "may_see_dates": access.exact_dates(current_user)}
    if request.method == "GET":
        return render_template("markers/export.html", errors={}, **options)
    form = request.form
    data = {
        "markers": form.getlist("markers"), "timepoints": form.getlist("timepoints"),
        "sample_types": form.getlist("sample_types"), "strata": form.getlist("strata"),
        "participants": parse_list(form.get("participants", "")), "outcomes": form.getlist("outcomes"),
        "form": form.get("form", "long"), "format": form.get("format", "csv"),
        "dates": form.get("dates") == "yes", "dfs_variant": form.get("dfs_variant") or None,
    }
    try:
        result = export_or_queue(db.session, ExportQuerySchema().load(data), by=current_user)
    except ValidationError as exc:
        return render_template("markers/export.html", errors=exc.messages, **options), 400
    except DomainError as exc:
        return render_template("markers/export.html", errors={exc.field or "form": [exc.message]},
                               **options), \
            exc.status
    if isinstance(result, Job):
        return redirect(url_for("jobs.detail", job_id=result.id))
    return Response(result.content, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{result.filename}"'})
