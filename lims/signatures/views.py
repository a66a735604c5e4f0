"""Signatures page: choose outcome, time point, markers and covariates; run, watch, reopen, re-run, report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_login import current_user

from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.core.forms import form_data
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.jobs.models import Job
from lims.signatures import figures, jobs, pdf, service
from lims.signatures.parameters import RunParametersSchema
from lims.studies.service import get_study

bp = Blueprint("signatures", __name__, url_prefix="/signatures")
# A run neither finished nor held by this process after this long was cut off (e.g. by a server restart).
STALE_AFTER = timedelta(minutes=15)
MULTI = ("markers", "covariates", "sample_types")


def _form(study: Any, values: dict[str, Any], error: DomainError | None = None, status: int = 200) -> Any:
    return render_template("signatures/index.html", study=study, options=service.choices(db.session, study),
                           values=values, error=error, runs=service.recent_runs(db.session, study),
                           modes=service.MODES), status


@bp.get("/")
@permission_required("signatures.read")
def index() -> Any:
    """Show the model form and the study's recent runs."""
    study = get_study(db.session)
    defaults = {"outcome": "pcr", "timepoint": "BASELINE", "transform": "log2", "penalty": "l1",
                "mode": "quick",
                "outer_folds": 5, "inner_folds": 4, "markers": [], "covariates": [], "sample_types": [],
                "thresholds": ", ".join(f"{t:g}" for t in service.DEFAULT_THRESHOLDS)}
    return _form(study, defaults)


@bp.post("/")
@permission_required("analysis.run")
def create() -> Any:
    """Queue a run of the submitted model and start it in the background."""
    study = get_study(db.session)
    raw = form_data(RunParametersSchema(), request.form)
    try:
        params = service.check_parameters(db.session, study, raw)
    except DomainError as exc:
        return _form(study, {**raw, **{k: request.form.getlist(k) for k in MULTI}}, exc, 400)
    run = service.create_run(db.session, study, params, by=current_user)
    jobs.queue_run(db.session, run, by=current_user)
    return redirect(url_for("signatures.run_page", run_id=run.id))


@bp.get("/runs/<int:run_id>")
@permission_required("signatures.read")
def run_page(run_id: int) -> Any:
    """Show a run: running (the page refreshes itself), its failure message, or its validated performance."""
    study = get_study(db.session)
    run = service.get_run(db.session, study, run_id)
    job = db.session.get(Job, run.job_id) if run.job_id else None
    # A run whose job ended without finishing it (or that has no job at all) will not move any more.
    stale = not run.finished and (job.finished if job is not None
                                  else utcnow() - run.created_at > STALE_AFTER)
    return render_template("signatures/run.html", study=study, run=run, stale=stale, job=job,
                           outcome=service.OUTCOMES[run.parameters["outcome"]],
                           conditions=service.conditions(run.parameters),
                           figures=figures.available(run.result), comparison=service.compare(db.session, run),
                           predictions=service.predict_unresected(db.session, study, run))


@bp.get("/runs/<int:run_id>/<any(calibration, decision):name>.<any(png, svg):fmt>")
@permission_required("signatures.read")
def figure(run_id: int, name: str, fmt: str) -> Any:
    """Return a figure of the run (calibration plot or decision curve) as PNG or SVG."""
    run = service.get_run(db.session, get_study(db.session), run_id)
    return Response(figures.render(run.result, name, fmt), mimetype=figures.MEDIA_TYPES[fmt])


@bp.get("/runs/<int:run_id>/report.html")
@permission_required("signatures.read")
def report(run_id: int) -> Any:
    """Download a self-contained HTML report: tables, embedded figures, methods paragraph and provenance."""
    study = get_study(db.session)
    run = service.get_run(db.session, study, run_id)
    if run.status != "done":
        raise DomainError(f"signature run {run.id} is {run.status}; a report needs a finished run")
    html = render_template("signatures/report.html", study=study, run=run,
                           outcome=service.OUTCOMES[run.parameters["outcome"]],
                           conditions=service.conditions(run.parameters),
                           images={name: figures.data_uri(run.result, name)
                                   for name in figures.available(run.result)})
    return Response(html, mimetype="text/html",
                    headers={"Content-Disposition": f'attachment; filename="signature-run-{run.id}.html"'})


@bp.get("/runs/<int:run_id>/report.pdf")
@permission_required("signatures.read")
def report_pdf(run_id: int) -> Any:
    """Download the report as PDF: performance, tables, methods and provenance, then the figures."""
    study = get_study(db.session)
    run = service.get_run(db.session, study, run_id)
    if run.status != "done":
        raise DomainError(f"signature run {run.id} is {run.status}; a report needs a finished run")
    outcome = service.OUTCOMES[run.parameters["outcome"]]
    data = pdf.report_pdf(run, title=f"Signature run #{run.id}: {outcome.label}",
                          study=f"{study.name} ({study.code})",
                          conditions=service.conditions(run.parameters), event_label=outcome.event_label)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="signature-run-{run.id}.pdf"'})


@bp.get("/runs/<int:run_id>/model.json")
@permission_required("signatures.read")
def model(run_id: int) -> Any:
    """Download the final model as a plain JSON signature file (format in analysis.signatures.export)."""
    run = service.get_run(db.session, get_study(db.session), run_id)
    if run.model is None:
        raise DomainError(f"signature run {run.id} has no final model ({run.status})")
    service.load_model(run)  # only a valid signature file is served (an old pickle is refused)
    return Response(run.model, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; '
                                                    f'filename="signature-run-{run.id}.signature.json"'})


@bp.post("/runs/<int:run_id>/rerun")
@permission_required("analysis.run")
def rerun(run_id: int) -> Any:
    """Queue the same run again (same parameters and seeds) on the current data."""
    study = get_study(db.session)
    original = service.get_run(db.session, study, run_id)
    run = service.create_run(db.session, study, original.parameters, by=current_user, rerun_of=original)
    jobs.queue_run(db.session, run, by=current_user)
    return redirect(url_for("signatures.run_page", run_id=run.id))
