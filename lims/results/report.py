"""What a saved run's results are conditioned on, and one marker's report within a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.core.errors import NotFound
from lims.markers.models import Marker
from lims.results import data
from lims.results.models import AnalysisRun
from lims.results.parameters import CUTS
from lims.results.service import (
    analysed_frame,
    apply_transforms,
    frame_for,
    post_baseline,
    result_frame,
)
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd


def conditions(params: dict[str, Any], timing: dict[str, Any] | None = None) -> list[str]:
    """Return the sentences stating what a run's results are conditioned on (``timing`` from its result)."""
    spec = data.OUTCOMES[params["outcome"]]
    timing = timing or {}
    out = [spec.condition,
           f"Marker values at {params['timepoint']} on {params['sample_type']}"
           + (f", {params['category']} markers" if params.get("category") else "")
           + (f", markers {', '.join(params['markers'])}" if params.get("markers") else "")
           + f"; transform {_transform_text(params)}; {CUTS[params['cut']]}."]
    if params.get("covariates"):
        out.append("Adjusted for " + ", ".join(data.COVARIATES[c] for c in params["covariates"])
                   + " (complete cases per model).")
    if timing.get("caveat"):
        out.append(str(timing["caveat"]))
    if params.get("landmark") is not None:
        late = int(timing.get("late_draws") or 0)
        out.append(f"Landmark at day {params['landmark']}: only participants still event-free and under "
                   f"follow-up at day {params['landmark']} after the time origin, with the clock restarted "
                   "there, so a marker measured after the origin cannot borrow guarantee time"
                   + (f"; {late} participant(s) left out because their sample was collected after the "
                      "landmark."
                      if late else "."))
    elif spec.kind == "survival" and timing and not timing.get("post_baseline"):
        out.append(f"Every sample at {params['timepoint']} was collected on or before the time origin of "
                   f"{spec.label} (or at baseline): no guarantee time.")
    if params.get("pseudocount") is not None:
        out.append(f"Pseudocount {params['pseudocount']:g} added to every value before a log transform.")
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
    """Return ``compute_marker_report``, computed once per version of the data it reads (it is read-only)."""
    return data.cached(session, data.READS, ("marker_report", study.id, run.id, repr(run.parameters), marker),
                       lambda: compute_marker_report(session, study, run, marker))


def marker_figure(session: Session, study: Study, run: AnalysisRun, marker: str, kind: str, fmt: str, *,
                  publication: bool) -> bytes:
    """Return one figure of a marker report drawn in ``fmt``, once per version of the data it shows.

    Raises ValueError when the figure does not apply (see ``figures.report_figure``).
    """
    from lims.results import figures  # drawing needs matplotlib: imported when a figure is asked for

    def draw() -> bytes:
        report = marker_report(session, study, run, marker)
        trajectory = trajectories(session, study, run, marker) if kind == "trajectory" else None
        return figures.render(figures.report_figure(kind, report, trajectory), fmt, publication=publication)

    key = ("marker_figure", study.id, run.id, repr(run.parameters), marker, kind, fmt, publication)
    return data.cached(session, data.READS, key, draw)


def compute_marker_report(session: Session, study: Study, run: AnalysisRun, marker: str) -> dict[str, Any]:
    """Return the data of one marker's report: its frame (transformed value, the run's groups) and statistics.

    The groups are those of the run: its optimal cut, its median split, or (continuous runs) a median split
    for the picture. Survival reports carry the Cox model with its PH test (``ph``); adjusted runs a
    multivariable Cox for the forest plot.
    """
    import numpy as np
    import pandas as pd

    from analysis import binary

    params = run.parameters
    if marker not in run.result["index"]:
        raise NotFound(f"marker {marker!r} is not part of analysis run {run.id}")
    frame = frame_for(session, study, params)
    spec = data.OUTCOMES[params["outcome"]]
    frame, timing = analysed_frame(frame, params, post_baseline(study, params, frame))
    markers = data.marker_columns(frame)
    if marker not in markers:
        # The run is saved, but today's data hold no value of the marker (results removed, consent withdrawn).
        raise NotFound(f"marker {marker!r} has no values in today's data for analysis run {run.id}; "
                       "re-run the analysis to see what remains")
    with np.errstate(all="ignore"):
        transformed = apply_transforms(frame, markers, params)[0][marker]
    row = result_frame(run).loc[marker]
    optimal = params["cut"] == "optimal" and "cutpoint" in row and pd.notna(row["cutpoint"])
    cut = float(row["cutpoint"]) if optimal else None  # no cut estimable: the median split, for the figures
    frame = data.with_groups(frame, marker, transformed, cut)
    report: dict[str, Any] = {"frame": frame, "spec": spec, "cut": frame.attrs.get("cut"), "marker": marker,
                              "unit": session.scalar(select(Marker.unit).where(Marker.code == marker)),
                              "cut_kind": "optimal" if cut is not None else "median", "row": row,
                              "figures": ["response", "trajectory"], "notes": [], "timing": timing,
                              "caveat": timing.caveat}
    column = "event" if spec.kind == "survival" else "outcome"
    if frame[column].nunique() == 2:
        report["figures"].insert(0, "km" if spec.kind == "survival" else "roc")
    elif spec.kind == "survival":
        report["notes"].append(f"No {spec.label} events among the {len(frame)} participants with a value: "
                               "the Kaplan-Meier comparison and the Cox model need at least one event.")
    else:
        report["notes"].append(f"All {len(frame)} participants with a value have the same {spec.label} "
                               "status: no ROC curve or logistic model.")
    if spec.kind == "survival":
        _survival_report(report, frame, params)
    else:
        try:
            report["association"] = binary.associate(frame, "outcome", "value")
        except ValueError as exc:
            report["association_error"] = str(exc)
    return report


def _survival_report(report: dict[str, Any], frame: pd.DataFrame, params: dict[str, Any]) -> None:
    from analysis import survival

    try:
        fit = survival.cox(frame, "time", "event", ["value", *params["covariates"]])
        report["cox"] = fit
        if fit.converged:
            report["ph"] = survival.ph_test(fit)
        if params["covariates"]:
            report["figures"].append("forest")
    except ValueError as exc:
        report["cox_error"] = str(exc)
    try:
        report["logrank"] = survival.logrank(frame, "time", "event", "group")
    except ValueError as exc:
        report["logrank_error"] = str(exc)


def trajectories(session: Session, study: Study, run: AnalysisRun, marker: str) -> pd.DataFrame:
    """Return the marker's values over all time points (same sample type) with the run's outcome per
    participant."""
    params = run.parameters
    values = data.marker_values(session, study)
    values = values[(values["marker"] == marker) & (values["sample_type"] == params["sample_type"])]
    frame = frame_for(session, study, params)
    spec = data.OUTCOMES[params["outcome"]]
    if spec.kind == "binary":
        status = frame.set_index("participant_id")["outcome"].map({1.0: f"{spec.label}: yes",
                                                                   0.0: f"{spec.label}: no"})
    else:
        status = frame.set_index("participant_id")["event"].map({1.0: "event", 0.0: "censored"})
    out = values.join(status.rename("status"), on="participant_id")
    return out[out["status"].notna()].reset_index(drop=True)
