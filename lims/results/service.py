"""Association screens: check parameters, run ``analysis.screen`` on the analysis frame, save and re-run runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import binary, screen, survival, transforms
from lims import __version__
from lims.core.errors import DomainError, NotFound
from lims.markers.models import CATEGORIES, Marker
from lims.results import data
from lims.results.models import AnalysisRun
from lims.studies.models import SampleType, Study, TimePoint

CUTS = {"none": "continuous (per unit of the transformed marker)", "median": "median split (high vs low)",
        "optimal": "maximally selected cut (Lausen-Schumacher adjusted p)"}
TRANSFORMS = {"catalogue": "each marker's catalogue transform", "log2": "log2 (effect per doubling)", "log10": "log10 (effect per ten-fold)", "none": "none (raw)",
              "clr": "centred log-ratio (compositions)"}
MAX_LANDMARK_DAYS = 3650


@dataclass
class Rerun:
    """The outcome of re-running a saved run: same input data, same numbers."""

    run: AnalysisRun
    dataset_sha256: str
    same_input: bool
    identical: bool
    max_abs_difference: float
    result: pd.DataFrame


def choices(session: Session, study: Study) -> dict[str, list[tuple[str, str]]]:
    """Return the options of the associations form (time points and sample types of the study)."""
    timepoints = session.scalars(select(TimePoint).where(TimePoint.study_id == study.id).order_by(TimePoint.order))
    types = session.scalars(select(SampleType).where(SampleType.study_id == study.id).order_by(SampleType.code))
    return {
        "outcome": [(k, o.label) for k, o in data.OUTCOMES.items()],
        "timepoint": [(t.code, t.name) for t in timepoints],
        "sample_type": [(t.code, t.name) for t in types],
        "category": [("", "All markers"), *[(c, c) for c in CATEGORIES]],
        "transform": list(TRANSFORMS.items()),
        "cut": list(CUTS.items()),
        "covariates": list(data.COVARIATES.items()),
    }


def check_parameters(session: Session, study: Study, raw: dict[str, Any]) -> dict[str, Any]:
    """Return clean screen parameters from form or JSON input, or raise DomainError naming the field."""
    options = choices(session, study)

    def pick(field: str, default: str | None = None) -> str:
        value = str(raw.get(field) or default or "").strip()
        allowed = [k for k, _ in options[field]]
        if value not in allowed:
            raise DomainError(f"{field.replace('_', ' ')} must be one of {', '.join(a or '(all)' for a in allowed)};"
                              f" got {value!r}", field=field)
        return value

    params: dict[str, Any] = {
        "outcome": pick("outcome"), "timepoint": pick("timepoint", "BASELINE"),
        "sample_type": pick("sample_type"), "category": pick("category", "") or None,
        "transform": pick("transform", "log2"), "cut": pick("cut", "none"),
    }
    markers = raw.get("markers") or []
    if isinstance(markers, str):
        markers = markers.replace(",", " ").split()
    known = {code.lower(): code for code in session.scalars(select(Marker.code))}
    wanted = {str(m).strip() for m in markers if str(m).strip()}
    unknown = sorted(m for m in wanted if m.lower() not in known)
    if unknown:
        raise DomainError(f"unknown marker(s) {', '.join(unknown)}; use codes from the marker catalogue",
                          field="markers")
    params["markers"] = sorted({known[m.lower()] for m in wanted})
    covariates = raw.get("covariates") or []
    if isinstance(covariates, str):
        covariates = [covariates]
    unknown = [c for c in covariates if c not in data.COVARIATES]
    if unknown:
        raise DomainError(f"unknown adjustment covariate(s) {', '.join(unknown)}; use {', '.join(data.COVARIATES)}",
                          field="covariates")
    params["covariates"] = [c for c in data.COVARIATES if c in covariates]
    landmark = raw.get("landmark")
    if landmark in (None, ""):
        params["landmark"] = None
    else:
        try:
            value = float(landmark)
        except (TypeError, ValueError):
            raise DomainError(f"landmark must be a number of days, got {landmark!r}", field="landmark") from None
        if not math.isfinite(value) or value < 0 or value > MAX_LANDMARK_DAYS:
            raise DomainError(f"landmark must be between 0 and {MAX_LANDMARK_DAYS} days", field="landmark")
        params["landmark"] = int(value) if value.is_integer() else value
    spec = data.OUTCOMES[params["outcome"]]
    if params["landmark"] is not None and spec.kind != "survival":
        raise DomainError(f"a landmark applies to survival outcomes only, not to {spec.label}", field="landmark")
    if params["cut"] == "optimal" and params["covariates"]:
        raise DomainError("the optimal cut has no adjusted p-value with covariates; use the median split or none",
                          field="cut")
    return params


def frame_for(session: Session, study: Study, params: dict[str, Any]) -> pd.DataFrame:
    """Return the analysis frame the parameters select (see ``data.analysis_frame``)."""
    return data.analysis_frame(session, study, outcome=params["outcome"], timepoint=params["timepoint"],
                               sample_type=params["sample_type"], markers=params["markers"] or None,
                               category=params["category"])


def apply_transforms(frame: pd.DataFrame, markers: list[str], params: dict[str, Any]) -> pd.DataFrame:
    """Return the marker columns transformed as the run says: one transform, or each marker's catalogue one.

    With ``transform="catalogue"`` the run's ``marker_transforms`` (saved with it) name each marker's transform;
    markers sharing ``clr`` form one composition.
    """
    values = frame[markers].astype(float)
    if params["transform"] != "catalogue":
        return transforms.apply(params["transform"], values)
    chosen = params.get("marker_transforms") or {}
    parts = []
    for name in sorted({chosen.get(m, "none") for m in markers}):
        columns = [m for m in markers if chosen.get(m, "none") == name]
        parts.append(transforms.apply(name, values[columns]))
    return pd.concat(parts, axis=1)[markers]


def compute(frame: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Screen every marker column of ``frame`` against the outcome with ``analysis.screen.run``."""
    spec = data.OUTCOMES[params["outcome"]]
    markers = data.marker_columns(frame)
    if not markers:
        raise DomainError(f"no marker values at {params['timepoint']} on {params['sample_type']} for the "
                          f"{spec.label} population; choose another time point, sample type or marker set")
    outcome = screen.Survival("time", "event") if spec.kind == "survival" else screen.Binary("outcome")
    # A row with no marker value is in no model; dropping it changes no number (and the vectorised Cox
    # fitter mis-sizes its arrays when an event row is missing from every model).
    frame = frame[frame[markers].notna().any(axis=1)]
    if spec.kind == "survival" and params["landmark"] is not None:
        frame = survival.landmark(frame, "time", "event", float(params["landmark"]))
        params = {**params, "landmark": None}
    column = "event" if spec.kind == "survival" else "outcome"
    if frame[column].nunique() < 2:
        return _not_estimable(frame, markers, column, "HR" if spec.kind == "survival" else "OR", params["cut"])
    try:
        with np.errstate(all="ignore"):
            frame = frame.assign(**apply_transforms(frame, markers, params))
            result = screen.run(frame, markers, outcome, transform="none",
                                covariates=params["covariates"], landmark=params["landmark"], cut=params["cut"])
    except ValueError as exc:
        raise DomainError(f"the screen cannot run on these data: {exc}") from None
    return result


def _not_estimable(frame: pd.DataFrame, markers: list[str], column: str, effect: str, cut: str) -> pd.DataFrame:
    """Return the screen's table with counts only: without events (or non-events) no effect is estimable."""
    columns = [c for c in screen.COLUMNS if cut != "none" or c not in ("cutpoint", "n_high", "statistic")]
    out = pd.DataFrame(np.nan, index=pd.Index(markers, name="marker"), columns=columns)
    present = frame[markers].notna()
    out["n"] = present.sum().astype(int)
    out["events"] = present.mul(frame[column].astype(float), axis=0).sum().astype(int)
    out["converged"] = False
    out.attrs.update(effect=effect, not_estimable=True)
    return out


def _as_json(result: pd.DataFrame, frame: pd.DataFrame) -> dict[str, Any]:
    def cell(v: Any) -> Any:
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f

    return {"columns": [str(c) for c in result.columns], "index": [str(i) for i in result.index],
            "data": [[cell(v) for v in row] for row in result.itertuples(index=False)],
            "effect": result.attrs.get("effect", ""), "not_estimable": bool(result.attrs.get("not_estimable")),
            "excluded": {str(k): int(v) for k, v in frame.attrs.get("excluded", {}).items()}}


def result_frame(run: AnalysisRun) -> pd.DataFrame:
    """Return a saved run's result table (index ``marker``)."""
    stored = run.result
    frame = pd.DataFrame(stored["data"], columns=stored["columns"],
                         index=pd.Index(stored["index"], name="marker"))
    for column in frame.columns:
        if column not in ("converged",):
            frame[column] = pd.to_numeric(frame[column]).astype(float)
    frame.attrs["effect"] = stored.get("effect", "")
    frame.attrs["not_estimable"] = bool(stored.get("not_estimable"))
    return frame


def result_rows(run: AnalysisRun) -> list[dict[str, Any]]:
    """Return a saved run's result table as one dict per marker (NaN as None)."""
    stored = run.result
    return [{"marker": marker, **dict(zip(stored["columns"], row, strict=True))}
            for marker, row in zip(stored["index"], stored["data"], strict=True)]


def run_screen(session: Session, study: Study, params: dict[str, Any], *, by: Any) -> AnalysisRun:
    """Build the frame, run the screen and save the run (parameters, input hash, version, result)."""
    frame = frame_for(session, study, params)
    if params["transform"] == "catalogue":
        codes = data.marker_columns(frame)
        rows = session.execute(select(Marker.code, Marker.transform).where(Marker.code.in_(codes)))
        params = {**params, "marker_transforms": {code: t for code, t in sorted(rows)}}
    result = compute(frame, params)
    run = AnalysisRun(study_id=study.id, by_id=getattr(by, "id", None), by_username=getattr(by, "username", "?"),
                      parameters=params, dataset_sha256=data.dataset_sha256(frame), dataset_rows=len(frame),
                      n_markers=len(result), software_version=__version__, result=_as_json(result, frame))
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, study: Study, run_id: int) -> AnalysisRun:
    """Return the study's saved run ``run_id`` or raise NotFound."""
    run = session.get(AnalysisRun, run_id)
    if run is None or run.study_id != study.id:
        raise NotFound(f"no analysis run {run_id}")
    return run


def recent_runs(session: Session, study: Study, limit: int = 20) -> list[AnalysisRun]:
    """Return the latest saved runs of the study, newest first."""
    return list(session.scalars(select(AnalysisRun).where(AnalysisRun.study_id == study.id)
                                .order_by(AnalysisRun.id.desc()).limit(limit)))


def rerun(session: Session, study: Study, run: AnalysisRun) -> Rerun:
    """Re-run a saved run on the current data and compare its input hash and numbers with the saved ones."""
    frame = frame_for(session, study, run.parameters)
    sha = data.dataset_sha256(frame)
    result = compute(frame, run.parameters)
    fresh = _as_json(result, frame)
    identical = fresh == run.result
    diff = float("nan")
    if fresh["columns"] == run.result["columns"] and fresh["index"] == run.result["index"]:
        old = np.array([[np.nan if v is None else float(v) for v in row] for row in run.result["data"]], dtype=float)
        new = np.array([[np.nan if v is None else float(v) for v in row] for row in fresh["data"]], dtype=float)
        both = ~np.isnan(old) & ~np.isnan(new)
        same_nan = bool((np.isnan(old) == np.isnan(new)).all())
        diff = float(np.abs(old[both] - new[both]).max()) if both.any() else 0.0
        if not same_nan:
            diff = float("inf")
    return Rerun(run=run, dataset_sha256=sha, same_input=sha == run.dataset_sha256, identical=identical,
                 max_abs_difference=diff, result=result)


def conditions(params: dict[str, Any]) -> list[str]:
    """Return the sentences stating what a run's results are conditioned on."""
    spec = data.OUTCOMES[params["outcome"]]
    out = [spec.condition,
           f"Marker values at {params['timepoint']} on {params['sample_type']}"
           + (f", {params['category']} markers" if params.get("category") else "")
           + (f", markers {', '.join(params['markers'])}" if params.get("markers") else "")
           + f"; transform {_transform_text(params)}; {CUTS[params['cut']]}."]
    if params.get("covariates"):
        out.append("Adjusted for " + ", ".join(data.COVARIATES[c] for c in params["covariates"])
                   + " (complete cases per model).")
    if params.get("landmark") is not None:
        out.append(f"Landmark at day {params['landmark']}: only participants still event-free and under follow-up "
                   f"at day {params['landmark']} after the time origin, with the clock restarted there, so a marker "
                   "measured after the origin cannot borrow guarantee time.")
    elif spec.kind == "survival" and params["timepoint"] != "BASELINE":
        out.append(f"No landmark: {params['timepoint']} is measured after the time origin, so survival from the "
                   "origin may carry guarantee-time bias; consider a landmark at the time point's day.")
    out.append("Rows with a missing value are dropped per marker; n and events say how many were used. "
               "q: Benjamini-Hochberg over the markers of this run.")
    return out


def _transform_text(params: dict[str, Any]) -> str:
    if params["transform"] != "catalogue":
        return str(params["transform"])
    chosen = params.get("marker_transforms") or {}
    groups = {t: [m for m, v in chosen.items() if v == t] for t in sorted(set(chosen.values()))}
    return "from the catalogue (" + "; ".join(f"{t}: {', '.join(ms)}" for t, ms in groups.items()) + ")"


def marker_report(session: Session, study: Study, run: AnalysisRun, marker: str) -> dict[str, Any]:
    """Return the data of one marker's report: its frame (transformed value, median group) and statistics."""
    params = run.parameters
    if marker not in run.result["index"]:
        raise NotFound(f"marker {marker!r} is not part of analysis run {run.id}")
    frame = frame_for(session, study, params)
    spec = data.OUTCOMES[params["outcome"]]
    if spec.kind == "survival" and params.get("landmark") is not None:
        frame = survival.landmark(frame, "time", "event", float(params["landmark"]))
    markers = data.marker_columns(frame)
    if marker not in markers:
        # The run is saved, but today's data hold no value of the marker (results removed, consent withdrawn).
        raise NotFound(f"marker {marker!r} has no values in today's data for analysis run {run.id}; "
                       "re-run the analysis to see what remains")
    with np.errstate(all="ignore"):
        transformed = apply_transforms(frame, markers, params)[marker]
    frame = data.with_groups(frame, marker, transformed)
    report: dict[str, Any] = {"frame": frame, "spec": spec, "cut": frame.attrs.get("cut"), "marker": marker,
                              "figures": ["response", "trajectory"], "notes": []}
    column = "event" if spec.kind == "survival" else "outcome"
    if frame[column].nunique() == 2:
        report["figures"].insert(0, "km" if spec.kind == "survival" else "roc")
    elif spec.kind == "survival":
        report["notes"].append(f"No {spec.label} events among the {len(frame)} participants with a value: the "
                               "Kaplan-Meier comparison and the Cox model need at least one event.")
    else:
        report["notes"].append(f"All {len(frame)} participants with a value have the same {spec.label} status: "
                               "no ROC curve or logistic model.")
    covariates = ["value", *params["covariates"]]
    if spec.kind == "survival":
        try:
            fit = survival.cox(frame, "time", "event", covariates)
            report["cox"] = fit
        except ValueError as exc:
            report["cox_error"] = str(exc)
        try:
            report["logrank"] = survival.logrank(frame, "time", "event", "group")
        except ValueError as exc:
            report["logrank_error"] = str(exc)
    else:
        try:
            report["association"] = binary.associate(frame, "outcome", "value")
        except ValueError as exc:
            report["association_error"] = str(exc)
    return report


def trajectories(session: Session, study: Study, run: AnalysisRun, marker: str) -> pd.DataFrame:
    """Return the marker's values over all time points (same sample type) with the run's outcome per participant."""
    params = run.parameters
    values = data.marker_values(session, study)
    values = values[(values["marker"] == marker) & (values["sample_type"] == params["sample_type"])]
    frame = frame_for(session, study, params)
    spec = data.OUTCOMES[params["outcome"]]
    if spec.kind == "binary":
        status = frame.set_index("participant_id")["outcome"].map({1.0: f"{spec.label}: yes", 0.0: f"{spec.label}: no"})
    else:
        status = frame.set_index("participant_id")["event"].map({1.0: "event", 0.0: "censored"})
    out = values.join(status.rename("status"), on="participant_id")
    return out[out["status"].notna()].reset_index(drop=True)
