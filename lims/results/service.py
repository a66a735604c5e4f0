"""Association screens: run ``analysis.screen`` on the analysis frame, save and re-run runs (their
parameters are checked in ``lims.results.parameters``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import __version__
from lims.core.errors import DomainError, NotFound
from lims.markers.models import Marker
from lims.results import data
from lims.results.models import AnalysisRun
from lims.studies.models import Study

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from analysis.survival import Timing


@dataclass
class Rerun:
    """The outcome of re-running a saved run: same input data, same numbers."""

    run: AnalysisRun
    dataset_sha256: str
    same_input: bool
    identical: bool
    max_abs_difference: float
    result: pd.DataFrame


def frame_for(session: Session, study: Study, params: dict[str, Any]) -> pd.DataFrame:
    """Return the analysis frame the parameters select (see ``data.analysis_frame``)."""
    return data.analysis_frame(session, study, outcome=params["outcome"], timepoint=params["timepoint"],
                               sample_type=params["sample_type"], markers=params["markers"] or None,
                               category=params["category"])


def apply_transforms(frame: pd.DataFrame, markers: list[str], params: dict[str, Any]
                     ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return the marker columns transformed as the run says, and the markers skipped with the reason.

    One transform for all, or each marker's catalogue one (``transform="catalogue"``: the run's saved
    ``marker_transforms``; markers sharing ``clr`` form one composition). A log transform of a marker with
    zeros is skipped (all-missing, with a note) unless the run gives a pseudocount.
    """
    import pandas as pd

    from analysis import transforms

    values = frame[markers].astype(float)
    pseudocount = params.get("pseudocount")
    if params["transform"] != "catalogue":
        return transforms.apply_or_skip(params["transform"], values, pseudocount)
    chosen = params.get("marker_transforms") or {}
    parts, notes = [], {}
    for name in sorted({chosen.get(m, "none") for m in markers}):
        columns = [m for m in markers if chosen.get(m, "none") == name]
        part, skipped = transforms.apply_or_skip(name, values[columns], pseudocount)
        parts.append(part)
        notes.update(skipped)
    return pd.concat(parts, axis=1)[markers], notes


def post_baseline(study: Study, params: dict[str, Any], frame: pd.DataFrame) -> bool:
    """Tell whether the run's markers are known only after the outcome's time origin (guarantee time).

    Never for a binary outcome or a baseline time point of the protocol (anchored at enrolment or the start
    of treatment, on or before it); otherwise when any participant's sample was collected after the origin
    (so DFS from randomisation with markers collected at CRE1, before randomisation, needs no landmark).
    """
    spec = data.OUTCOMES[params["outcome"]]
    if spec.kind != "survival" or "draw_day" not in frame:
        return False
    timepoint = next((tp for tp in study.timepoints if tp.code == params["timepoint"]), None)
    if timepoint is not None and timepoint.anchor in ("enrolment", "rt_start") and timepoint.day <= 0:
        return False
    return bool((frame["draw_day"] > 1).any())


def analysed_frame(frame: pd.DataFrame, params: dict[str, Any], post: bool) -> tuple[pd.DataFrame, Timing]:
    """Return the rows a run analyses: after its landmark (and each participant's draw day), or refuse.

    Markers known only after the time origin need a landmark, or the run's explicit override (whose caveat
    every output of the run then repeats).
    """
    from analysis import survival
    from analysis.survival import Timing

    spec = data.OUTCOMES[params["outcome"]]
    if spec.kind != "survival":
        return frame, Timing()
    markers = data.marker_columns(frame) if post else []
    try:
        return survival.apply_timing(frame, "time", "event", markers, params.get("landmark"),
                                     "draw_day" if "draw_day" in frame else None,
                                     bool(params.get("allow_post_baseline")))
    except ValueError:
        after = frame["draw_day"] > 1
        raise DomainError(
            f"{int(after.sum())} of {len(frame)} samples at {params['timepoint']} were collected after the "
            f"time origin of {spec.label} (up to day {frame['draw_day'].max():g}): comparing them from the "
            "origin gives guarantee-time bias. Set a landmark (days after the origin; samples collected "
            "later are left out) or tick 'analyse from the time origin anyway'", field="landmark") from None


def compute(frame: pd.DataFrame, params: dict[str, Any], post: bool = False) -> pd.DataFrame:
    """Screen every marker column of ``frame`` against the outcome with ``analysis.screen.run``.

    ``post``: the markers are known only after the time origin (``post_baseline``).
    """
    import numpy as np

    from analysis import screen

    spec = data.OUTCOMES[params["outcome"]]
    markers = data.marker_columns(frame)
    if not markers:
        raise DomainError(f"no marker values at {params['timepoint']} on {params['sample_type']} for the "
                          f"{spec.label} population; choose another time point, sample type or marker set")
    outcome = screen.Survival("time", "event") if spec.kind == "survival" else screen.Binary("outcome")
    frame, timing = analysed_frame(frame, params, post)
    # A row with no marker value is in no model; dropping it changes no number.
    frame = frame[frame[markers].notna().any(axis=1)]
    column = "event" if spec.kind == "survival" else "outcome"
    if frame[column].nunique() < 2:
        result = _not_estimable(frame, markers, column, "HR" if spec.kind == "survival" else "OR",
                                params["cut"])
    else:
        try:
            with np.errstate(all="ignore"):
                transformed, skipped = apply_transforms(frame, markers, params)
                frame = frame.assign(**transformed)
                result = screen.run(frame, markers, outcome, transform="none",
                                    covariates=params["covariates"],
                                    cut=params["cut"])
        except ValueError as exc:
            raise DomainError(f"the screen cannot run on these data: {exc}") from None
        for marker, note in skipped.items():
            result.loc[marker, ["converged", "note"]] = [False, note]
    result.attrs["timing"] = {"post_baseline": post, "landmark": timing.landmark,
                              "late_draws": timing.late_draws,
                              "caveat": timing.caveat}
    return result


def _not_estimable(frame: pd.DataFrame, markers: list[str], column: str, effect: str,
                   cut: str) -> pd.DataFrame:
    """Return the screen's table with counts only: without events (or non-events) no effect is estimable."""
    import numpy as np
    import pandas as pd

    from analysis import screen

    columns = [c for c in screen.COLUMNS if cut != "none" or c not in ("cutpoint", "n_high", "statistic")]
    out = pd.DataFrame(np.nan, index=pd.Index(markers, name="marker"), columns=columns)
    present = frame[markers].notna()
    out["n"] = present.sum().astype(int)
    out["events"] = present.mul(frame[column].astype(float), axis=0).sum().astype(int)
    out["converged"] = False
    out["note"] = "no events (or no non-events) in the population: no effect is estimable"
    out.attrs.update(effect=effect, not_estimable=True)
    return out


def _as_json(result: pd.DataFrame, frame: pd.DataFrame) -> dict[str, Any]:
    import numpy as np

    def cell(v: Any) -> Any:
        if isinstance(v, str):
            return v
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        f = float(v)
        if math.isinf(f):  # JSON (and PostgreSQL) has no infinity: an infinite estimate is kept as text
            return "inf" if f > 0 else "-inf"
        return None if math.isnan(f) else f

    return {"columns": [str(c) for c in result.columns], "index": [str(i) for i in result.index],
            "data": [[cell(v) for v in row] for row in result.itertuples(index=False)],
            "effect": result.attrs.get("effect", ""),
            "not_estimable": bool(result.attrs.get("not_estimable")),
            "excluded": {str(k): int(v) for k, v in frame.attrs.get("excluded", {}).items()},
            "timing": result.attrs.get("timing", {})}


def result_frame(run: AnalysisRun) -> pd.DataFrame:
    """Return a saved run's result table (index ``marker``)."""
    import pandas as pd

    stored = run.result
    frame = pd.DataFrame(stored["data"], columns=stored["columns"],
                         index=pd.Index(stored["index"], name="marker"))
    for column in frame.columns:
        if column not in ("converged", "note"):
            frame[column] = pd.to_numeric(frame[column]).astype(float)
    frame.attrs["effect"] = stored.get("effect", "")
    frame.attrs["not_estimable"] = bool(stored.get("not_estimable"))
    frame.attrs["caveat"] = (stored.get("timing") or {}).get("caveat")
    return frame


def result_rows(run: AnalysisRun) -> list[dict[str, Any]]:
    """Return a saved run's result table as one dict per marker (NaN and infinite estimates as None; the
    ``note`` says why)."""
    stored = run.result

    def cell(column: str, v: Any) -> Any:
        return None if column != "note" and v in ("inf", "-inf") else v

    return [{"marker": marker, **{c: cell(c, v) for c, v in zip(stored["columns"], row, strict=True)}}
            for marker, row in zip(stored["index"], stored["data"], strict=True)]


def run_screen(session: Session, study: Study, params: dict[str, Any], *, by: Any) -> AnalysisRun:
    """Build the frame, run the screen and save the run (parameters, input hash, version, result)."""
    return save_run(session, study, *compute_screen(session, study, params), by=by)


def compute_screen(session: Session, study: Study, params: dict[str, Any]
           ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Build the frame and run the screen (reads only): return the run's parameters, the frame and the
    result."""
    frame = frame_for(session, study, params)
    if params["transform"] == "catalogue":
        codes = data.marker_columns(frame)
        rows = session.execute(select(Marker.code, Marker.transform).where(Marker.code.in_(codes)))
        params = {**params, "marker_transforms": {code: transform for code, transform in sorted(rows)}}  # noqa: C416 - Rows, typed
    return params, frame, compute(frame, params, post_baseline(study, params, frame))


def save_run(session: Session, study: Study, params: dict[str, Any], frame: pd.DataFrame,
             result: pd.DataFrame,
             *, by: Any) -> AnalysisRun:
    """Save a computed screen as a run (parameters, input hash, software version, result table)."""
    run = AnalysisRun(study_id=study.id, by_id=getattr(by, "id", None),
                      by_username=getattr(by, "username", "?"),
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
    import numpy as np

    frame = frame_for(session, study, run.parameters)
    sha = data.dataset_sha256(frame)
    result = compute(frame, run.parameters, post_baseline(study, run.parameters, frame))
    fresh = _as_json(result, frame)
    identical = fresh == run.result
    diff = float("nan")
    if fresh["columns"] == run.result["columns"] and fresh["index"] == run.result["index"]:
        old, new = _numbers(run.result), _numbers(fresh)
        both = np.isfinite(old) & np.isfinite(new)
        same_gaps = bool(((np.isnan(old) == np.isnan(new)) & (np.isinf(old) == np.isinf(new))).all()
                         and (old[np.isinf(old)] == new[np.isinf(old)]).all())
        diff = float(np.abs(old[both] - new[both]).max()) if both.any() else 0.0
        if not same_gaps:
            diff = float("inf")
    return Rerun(run=run, dataset_sha256=sha, same_input=sha == run.dataset_sha256, identical=identical,
                 max_abs_difference=diff, result=result)


def _numbers(stored: dict[str, Any]) -> np.ndarray:
    """The numeric cells of a stored result table (text columns such as ``note`` left out)."""
    import numpy as np

    keep = [i for i, c in enumerate(stored["columns"]) if c != "note"]
    return np.array([[np.nan if row[i] is None else float(row[i]) for i in keep] for row in stored["data"]],
                    dtype=float)  # float("inf") reads the stored "inf"
