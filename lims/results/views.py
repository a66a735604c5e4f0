"""Pages of the PI's views: the trial endpoints readout, association screens, saved runs and marker
reports."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user

from lims.clinical.service import endpoint_settings
from lims.core.errors import DomainError
from lims.core.forms import form_data
from lims.core.permissions import allowed, permission_required
from lims.core.spreadsheet import frame_csv
from lims.extensions import db
from lims.jobs.models import Job
from lims.results import figures, parameters, readout, readout_figures, service, tables
from lims.results.data import COVARIATES, OUTCOMES
from lims.results.jobs import screen_or_queue
from lims.results.report import conditions, marker_report
from lims.results.report import marker_figure as marker_figure_bytes
from lims.studies.service import get_study

bp = Blueprint("results", __name__, url_prefix="/results")

SORTABLE = ("marker", "n", "events", "effect", "p", "q")


def _figure_response(fig: Any, fmt: str, name: str) -> Response:
    if fmt not in figures.FORMATS:
        abort(404)
    return _image(figures.render(fig, fmt, publication=_download()), fmt, name)


def _download() -> bool:
    return bool(request.args.get("download"))


def _image(body: bytes, fmt: str, name: str) -> Response:
    response = Response(body, mimetype=figures.FORMATS[fmt])
    if _download():
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@bp.get("/endpoints")
@permission_required("results.read")
def endpoints() -> Any:
    """Show the trial's own readout: primary endpoint, response rates, survival, failures, QoL, toxicity."""
    study = get_study(db.session)
    result = readout.trial_readout(db.session, study)
    return render_template("results/endpoints.html", study=study, r=result, curves=readout.CURVES,
                           primary_day=readout.PRIMARY_DAY, primary_arm=readout.PRIMARY_ARM,
                           days=readout.SURVIVAL_DAYS, qol=result.qol_pivots,
                           acute_days=endpoint_settings(study).acute_days)


@bp.get("/endpoints/qol.<fmt>")
@permission_required("results.read")
def qol_figure(fmt: str) -> Any:
    """Return the QoL scale scores over time by arm as one figure."""
    if fmt not in figures.FORMATS:
        abort(404)
    body = readout_figures.figure_bytes(db.session, get_study(db.session), "qol", fmt,
                                        publication=_download())
    if body is None:
        abort(404, description="no QoL answers recorded")
    return _image(body, fmt, "qol-by-arm")


@bp.get("/endpoints/table1.<any(csv, xlsx, docx):fmt>")
@permission_required("results.read")
def table_one(fmt: str) -> Any:
    """Download Table 1 (baseline characteristics by arm) as CSV, Excel or Word."""
    study = get_study(db.session)
    body, mimetype = tables.export(readout.table_one(db.session, study), fmt,
                                   f"Table 1. {study.code}: baseline "
                                   "characteristics by arm")
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="table1-{study.code}.{fmt}"'})


@bp.get("/endpoints/<name>.<fmt>")
@permission_required("results.read")
def endpoint_figure(name: str, fmt: str) -> Any:
    """Return one readout figure: KM by stratum or arm, cumulative incidence, participant flow, forest
    plot."""
    if fmt not in figures.FORMATS or (name not in readout.CURVES and name not in readout_figures.FIGURES):
        abort(404)
    body = readout_figures.figure_bytes(db.session, get_study(db.session), name, fmt, publication=_download())
    if body is None:
        abort(404, description=f"no participant has {name.upper()} data yet")
    return _image(body, fmt, name)


@bp.get("/associations")
@permission_required("results.read")
def associations() -> Any:
    """Show the association screen form and the saved runs."""
    study = get_study(db.session)
    values: dict[str, Any] = {k: request.args.get(k) for k in request.args}
    values["covariates"] = request.args.getlist("covariates")
    values["markers"] = " ".join(request.args.getlist("markers"))
    return _form(study, values, None, 200)


def _form(study: Any, values: dict[str, Any], error: DomainError | None, status: int) -> Any:
    return render_template("results/associations.html", study=study,
                           options=parameters.choices(db.session, study),
                           values=values, error=error, runs=service.recent_runs(db.session, study),
                           outcomes=OUTCOMES, can_run=allowed(current_user.role, "analysis.run")), status


@bp.post("/associations")
@permission_required("analysis.run")
def run_associations() -> Any:
    """Run a screen with the submitted parameters, save it and show it."""
    study = get_study(db.session)
    raw = form_data(parameters.RunParametersSchema(), request.form)
    try:
        params = parameters.check_parameters(db.session, study, raw)
        run = screen_or_queue(db.session, study, params, by=current_user)
    except DomainError as exc:  # the form again, as submitted
        return _form(study, {**request.form.to_dict(), "covariates": request.form.getlist("covariates")},
                     exc, 400)
    if isinstance(run, Job):
        return redirect(url_for("jobs.detail", job_id=run.id))
    return redirect(url_for("results.run", run_id=run.id))


@bp.get("/runs/<int:run_id>")
@permission_required("results.read")
def run(run_id: int) -> Any:
    """Show a saved run: what it was conditioned on, the volcano plot and the sortable results table."""
    study = get_study(db.session)
    saved = service.get_run(db.session, study, run_id)
    result = service.result_frame(saved)
    sort = request.args.get("sort", "p")
    sort = sort if sort in SORTABLE else "p"
    descending = request.args.get("dir") == "desc"
    table = result.reset_index()
    table = table.sort_values(sort, ascending=not descending, na_position="last", kind="stable")
    return render_template("results/run.html", study=study, run=saved, table=table, sort=sort,
                           descending=descending, sortable=SORTABLE,
                           spec=OUTCOMES[saved.parameters["outcome"]],
                           conditions=conditions(saved.parameters, saved.result.get("timing")),
                           effect=result.attrs.get("effect", ""), covariates=COVARIATES,
                           not_estimable=result.attrs.get("not_estimable", False),
                           excluded=saved.result.get("excluded", {}))


@bp.get("/runs/<int:run_id>/results.csv")
@permission_required("results.read")
def run_csv(run_id: int) -> Any:
    """Download a saved run's result table as CSV."""
    saved = service.get_run(db.session, get_study(db.session), run_id)
    table = service.result_frame(saved)
    if table.attrs.get("caveat"):  # the override's warning travels with every copy of the numbers
        table["caveat"] = table.attrs["caveat"]
    text = frame_csv(table, index=True, float_format="%.10g")
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="analysis-run-{run_id}.csv"'})


@bp.get("/runs/<int:run_id>/<any(volcano, forest):kind>.<fmt>")
@permission_required("results.read")
def run_figure(run_id: int, kind: str, fmt: str) -> Any:
    """Return the volcano or forest plot of a saved run."""
    saved = service.get_run(db.session, get_study(db.session), run_id)
    result = service.result_frame(saved)
    title = f"Run {saved.id}: {OUTCOMES[saved.parameters['outcome']].label}"
    fig = figures.volcano(result, title,
                          saved.parameters) if kind == "volcano" else figures.forest(result, title)
    return _figure_response(fig, fmt, f"run-{run_id}-{kind}")


@bp.get("/runs/<int:run_id>/rerun")
@permission_required("results.read")
def rerun(run_id: int) -> Any:
    """Re-run a saved run on the current data and say whether the input and the numbers are the same."""
    study = get_study(db.session)
    check = service.rerun(db.session, study, service.get_run(db.session, study, run_id))
    return render_template("results/rerun.html", study=study, check=check)


@bp.get("/runs/<int:run_id>/markers/<marker>")
@permission_required("results.read")
def marker(run_id: int, marker: str) -> Any:
    """Show one marker's report within a run: KM by median split or ROC, Cox or logistic table,
    trajectories."""
    study = get_study(db.session)
    saved = service.get_run(db.session, study, run_id)
    report = marker_report(db.session, study, saved, marker)
    result = service.result_frame(saved)
    return render_template("results/marker.html", study=study, run=saved, marker=marker, report=report,
                           row=result.loc[marker], kinds=report["figures"], names=figures.REPORT_FIGURES,
                           conditions=conditions(saved.parameters, saved.result.get("timing")),
                           effect=result.attrs.get("effect", ""))


@bp.get("/runs/<int:run_id>/markers/<marker>/<kind>.<fmt>")
@permission_required("results.read")
def marker_figure(run_id: int, marker: str, kind: str, fmt: str) -> Any:
    """Return one figure of a marker report as PNG, SVG or PDF."""
    if kind not in figures.REPORT_FIGURES or fmt not in figures.FORMATS:
        abort(404)
    study = get_study(db.session)
    saved = service.get_run(db.session, study, run_id)
    report = marker_report(db.session, study, saved, marker)
    if kind not in report["figures"]:
        abort(404, description=" ".join(report["notes"]) or f"no {kind} figure for {report['spec'].label}")
    try:
        body = marker_figure_bytes(db.session, study, saved, marker, kind, fmt, publication=_download())
    except ValueError as exc:
        abort(404, description=str(exc))
    return _image(body, fmt, f"run-{run_id}-{marker}-{kind}")
