"""Clinical pages: endpoints overview, import, data queries per site, and each participant's course."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from lims import access
from lims.accounts.models import SIGNATURE_MEANINGS
from lims.clinical import quality, service, timeline
from lims.clinical.models import ClinicalChange, ImportRun
from lims.clinical.redcap_api import configured_source
from lims.clinical.schemas import ClinicalImportFormSchema
from lims.clinical.uploads import import_upload
from lims.core.forms import first_error, load_form
from lims.core.permissions import permission_required
from lims.core.spreadsheet import frame_csv
from lims.extensions import db
from lims.participants.service import get_by_code
from lims.studies.service import get_study

bp = Blueprint("clinical", __name__, url_prefix="/clinical")
ENDPOINT_COLUMNS = ("participant_id", "site", "stratum", "ccr_cre1", "resected", "r_status", "pcr", "mpr",
                    "trg_grade", "os_time", "os_event", "dfs_time", "dfs_event", "dfs_event_type", "efs_time",
                    "efs_event", "first_failure")


def _variant() -> str | None:
    variant = request.args.get("variant") or None
    if variant not in (None, "A", "B"):
        abort(400, "variant must be A or B")
    return variant


def _show(value: Any) -> str:
    """Render a derived value: booleans as yes/no, missing as a dash."""
    if value is None or (not isinstance(value, str) and _isna(value)):
        return "—"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _isna(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@bp.app_template_filter("clinical_value")
def clinical_value(value: Any) -> str:
    return _show(value)


@bp.get("/")
@permission_required("clinical.read")
def index() -> Any:
    """Show the derived endpoints of every participant and the response rates per stratum."""
    from analysis.endpoints import rates

    study = get_study(db.session)
    variant = _variant()
    derived = service.derived_endpoints(db.session, study, variant)
    return render_template("clinical/index.html", study=study, rows=derived.to_dict("records"),
                           columns=ENDPOINT_COLUMNS, rates=rates(derived).to_dict("records"),
                           variant=derived["variant"].iloc[0] if len(derived) else (variant or "A"))


@bp.get("/endpoints.csv")
@permission_required("clinical.read")
def endpoints_csv() -> Any:
    """Download every derived endpoint as CSV (the variant is in the file name and a column)."""
    study = get_study(db.session)
    derived = service.derived_endpoints(db.session, study, _variant())
    variant = derived["variant"].iloc[0] if len(derived) else "A"
    return Response(frame_csv(derived), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={study.code}-endpoints-dfs-{variant}.csv"})


@bp.route("/import", methods=["GET", "POST"])
@permission_required("clinical.import")
def import_page() -> Any:
    """Upload a REDCap export (with its mapping) or Trialbank per-table CSVs, signed; show the report."""
    study = get_study(db.session)
    report = None
    status = 200
    if request.method == "POST":
        mapping = request.files.get("mapping")
        try:
            form = load_form(ClinicalImportFormSchema(), request.form)
        except ValidationError as exc:
            flash(first_error(exc), "error")
            status = 400
        else:
            # A refused import answers 422 and a refused signature raises: either way nothing of it stays.
            report = import_upload(db.session, study, form["format"],
                                   [(f.filename or "", f.read()) for f in request.files.getlist("files")
                                    if f.filename],
                                   (mapping.filename, mapping.read()) if mapping and mapping.filename
                                   else None,
                                   by=current_user, signature=(form["password"], form["meaning"]))
            status = 200 if report.applied else 422
    runs = db.session.scalars(select(ImportRun).where(ImportRun.study_id == study.id)
                              .order_by(ImportRun.at.desc()).limit(20)).all()
    return render_template("clinical/import.html", report=report, runs=runs, meanings=SIGNATURE_MEANINGS,
                           redcap=configured_source(current_app.config)), status


@bp.post("/redcap-sync")
@permission_required("jobs.admin")
def redcap_sync() -> Any:
    """Ask for a REDCap sync now (the scheduled ``redcap_sync`` job); show the job."""
    from lims.clinical.jobs import queue_sync
    from lims.jobs.queue import pusher

    job = queue_sync(db.session, by=current_user, push=pusher())
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.get("/quality")
@permission_required("clinical.queries")
def quality_page() -> Any:
    """List the open data queries of one site (or all), so a data manager can chase them."""
    study = get_study(db.session)
    site = request.args.get("site", "").strip().upper() or None
    try:
        as_of = date.fromisoformat(request.args["as_of"]) if request.args.get("as_of") else None
    except ValueError:
        abort(400, "as_of must be a date YYYY-MM-DD")
    queries = quality.data_queries(db.session, study, site, as_of)
    counts: dict[str, int] = {}
    for q in queries:
        counts[q.kind] = counts.get(q.kind, 0) + 1
    sites = [ss.site.code for ss in study.sites]
    return render_template("clinical/quality.html", queries=queries, site=site, sites=sites, counts=counts,
                           as_of=as_of or access.local_today(access.study_zone(study)))


@bp.get("/<code>")
@permission_required("clinical.read")
def participant(code: str) -> Any:
    """Show one participant's clinical course: timeline, endpoints, QoL, toxicity and the import history."""
    p = get_by_code(db.session, code)
    study = p.study
    endpoints = {v: service.derived_endpoints(db.session, study, v, [p]).iloc[0].to_dict()
                 for v in ("A", "B")}
    scores = service.qol_scores(db.session, study, p)
    changes = db.session.scalars(select(ClinicalChange).where(ClinicalChange.participant_id == p.id)
                                 .order_by(ClinicalChange.id.desc()).limit(50)).all()
    return render_template(
        "clinical/participant.html", participant=p, endpoints=endpoints,
        records=service.records(db.session, p),
        c30=scores["QLQ-C30"].to_dict("records"), facte=scores["FACT-E"].to_dict("records"),
        toxicity=service.toxicity(db.session, study, p).to_dict("records"), changes=changes,
        timeline=timeline.build(db.session, p, exact_dates=access.exact_dates(current_user)),
        default_variant=service.endpoint_settings(study).dfs_variant,
        lock=service.lock_of(db.session, p), meanings=SIGNATURE_MEANINGS,
        may_lock=access.may_act(current_user, "clinical.lock", p))


def _signature() -> tuple[str, str]:
    return request.form.get("password", ""), request.form.get("meaning", "performed")


@bp.post("/<code>/lock")
@permission_required("clinical.lock")
def lock(code: str) -> Any:
    """Lock the participant's clinical data (signed): imports no longer change them."""
    p = get_by_code(db.session, code)
    service.lock_clinical(db.session, p, reason=request.form.get("reason", ""), by=current_user,
                          signature=_signature())
    flash(f"The clinical data of {p.code} are locked.", "success")
    return redirect(url_for("clinical.participant", code=p.code))


@bp.post("/<code>/unlock")
@permission_required("clinical.lock")
def unlock(code: str) -> Any:
    """Lift the lock of the participant's clinical data (signed)."""
    p = get_by_code(db.session, code)
    service.unlock_clinical(db.session, p, reason=request.form.get("reason", ""), by=current_user,
                            signature=_signature())
    flash(f"The clinical data of {p.code} are unlocked.", "success")
    return redirect(url_for("clinical.participant", code=p.code))
