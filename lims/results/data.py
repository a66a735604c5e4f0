"""Analysis frames: participant x marker values at one time point and sample type, joined to the endpoints.

``marker_values`` reads the marker results through the markers domain's consent-aware dataset builder (one
value per participant, time point, sample type and marker: the latest replicate of each sample, averaged over
the participant's samples of that visit);
``analysis_frame`` pivots them and joins the derived endpoints of the chosen outcome, restricted to the
population the outcome is defined in (``OUTCOMES``). Frames carry study IDs and day counts, never dates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clinical.service import clinical_tables, endpoint_settings
from lims.core.db import utcnow
from lims.core.versions import VersionedCache
from lims.markers.export import ExportQuery, build_dataset
from lims.markers.models import Marker
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd

VALUE_COLUMNS = ["participant_id", "timepoint", "timepoint_order", "day", "sample_type", "marker", "category",
                 "value"]
# Tables the endpoint derivation never reads (QoL answers are the bulk of the clinical data).
_NOT_ENDPOINTS = ("qol_responses", "drug_doses")
# Derived data of the results pages, per worker, keyed by the data versions read in the request's transaction.
_VERSIONED = VersionedCache()
T = TypeVar("T")
READS = ("clinical", "markers")  # analysis frames join the endpoints to the marker values
COVARIATES = {"age": "Age (per year)", "male": "Male sex", "ecog": "ECOG (per point)"}


@dataclass(frozen=True)
class Outcome:
    """An outcome of the associations page: which endpoint columns, which population, what it means."""

    key: str
    label: str
    kind: str  # "binary" | "survival"
    column: str  # binary: the 0/1 column; survival: the prefix of <prefix>_time/<prefix>_event
    variant: str | None
    condition: str


OUTCOMES = {
    "ccr": Outcome("ccr", "cCR at CRE1", "binary", "ccr_cre1", None,
                   "cCR at the first clinical response evaluation (CRE1), among participants with an "
                   "evaluable CRE1."),
    "pcr": Outcome("pcr", "pCR", "binary", "pcr", None,
                   "pCR only among resected participants (planned surgery or salvage) with a pathology "
                   "result."),
    "mpr": Outcome("mpr", "MPR", "binary", "mpr", None,
                   "MPR only among resected participants (planned surgery or salvage) with a pathology "
                   "result."),
    "dfs_a": Outcome("dfs_a", "DFS (variant A)", "survival", "dfs", "A",
                     "DFS only among randomised cCR participants (CCR_SURGERY and CCR_WW), time from "
                     "randomisation; variant A: every local regrowth is an event."),
    "dfs_b": Outcome("dfs_b", "DFS (variant B)", "survival", "dfs", "B",
                     "DFS only among randomised cCR participants (CCR_SURGERY and CCR_WW), time from "
                     "randomisation; variant B: a regrowth salvaged R0 is not an event."),
    "os": Outcome("os", "Overall survival", "survival", "os", None,
                  "OS in the whole cohort, time from enrolment, death of any cause."),
    "efs": Outcome("efs", "Event-free survival", "survival", "efs", None,
                   "EFS in the whole cohort, time from enrolment: disease events, death, R2 or unresectable "
                   "surgery."),
}


def cached(session: Session, kinds: tuple[str, ...], key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """Return ``compute()`` for ``key``, kept in this worker while the data versions of ``kinds`` are
    unchanged.

    ``kinds`` name what the value is derived from (``clinical``, ``markers``: see lims.core.versions); a write
    committed through any worker changes them, so no worker serves a value derived from replaced data.
    Callers must not change what they get (DataFrames are copied by the helpers below).
    """
    return _VERSIONED.get(session, kinds, key, compute)


def study_tables(session: Session, study: Study) -> dict[str, pd.DataFrame]:
    """Return the study's clinical tables (``clinical_tables``), read once per clinical data version."""
    tables = cached(session, ("clinical",), ("tables", study.id), lambda: clinical_tables(session, study))
    return {name: frame.copy() for name, frame in tables.items()}


def derived(session: Session, study: Study, variant: str) -> pd.DataFrame:
    """Return ``endpoints`` of the study's clinical tables, derived once per clinical data version."""
    key = ("endpoints", study.id, variant, repr(endpoint_settings(study, variant)))
    return cached(session, ("clinical",), key,
                  lambda: endpoints(study_tables(session, study), study, variant)).copy()


def marker_values(session: Session, study: Study) -> pd.DataFrame:
    """Return ``study_marker_values``, read once per marker data version (and day: consent may lapse)."""
    key = ("marker_values", study.id, utcnow().date())
    return cached(session, ("markers",), key, lambda: study_marker_values(session, study)).copy()


def study_marker_values(session: Session, study: Study) -> pd.DataFrame:
    """Return the study's marker values in long form (``VALUE_COLUMNS``), one per participant x visit x
    marker.

    The rows come from the markers domain's consent-aware dataset builder (participants who withdrew or whose
    consent does not cover marker research are left out; ``attrs["excluded"]`` counts them). Only the latest
    replicate of a marker on a sample counts; a result given only as a qualifier (<LOD, >ULOQ, NA) has no
    value and is left out; several samples of one visit are averaged. ``day`` is the study day of collection.
    """
    import pandas as pd

    dataset = build_dataset(session, study, ExportQuery(form="long", outcomes=[]), role="researcher",
                            purpose="analysis")
    frame = dataset.frame
    if frame.empty:
        out = pd.DataFrame({c: pd.Series(dtype=float if c in ("value", "day") else object)
                            for c in VALUE_COLUMNS})
        out.attrs["excluded"] = dataset.excluded
        return out
    frame = frame[frame["latest"].astype(bool) & frame["value"].notna()].copy()
    categories = dict(session.execute(select(Marker.code, Marker.category)).all())
    order = {tp.code: tp.order for tp in study.timepoints}
    frame["category"] = frame["marker"].map(categories)
    frame["timepoint_order"] = frame["timepoint"].map(order).fillna(10**6).astype(int)
    frame["day"] = pd.to_numeric(frame["collection_day"], errors="coerce").astype(float)
    frame["value"] = frame["value"].astype(float)
    keys = ["participant_id", "timepoint", "timepoint_order", "sample_type", "marker", "category"]
    out = frame.groupby(keys, as_index=False, dropna=False).agg(day=("day", "min"), value=("value", "mean"))
    out = out[VALUE_COLUMNS].sort_values(["participant_id", "timepoint_order", "sample_type", "marker"],
                                         ignore_index=True)
    out.attrs["excluded"] = dataset.excluded
    return out


def endpoints(tables: dict[str, pd.DataFrame], study: Study, variant: str) -> pd.DataFrame:
    """Return the derived endpoints under DFS ``variant`` with the numeric covariates of ``COVARIATES``.

    Pages read them through ``derived``, which keeps them per clinical data version.
    """
    settings = endpoint_settings(study, variant)
    return _derive_with_covariates({k: v for k, v in tables.items() if k not in _NOT_ENDPOINTS}, settings)


def _derive_with_covariates(tables: dict[str, pd.DataFrame], settings: object) -> pd.DataFrame:
    import pandas as pd

    from analysis.endpoints import derive

    people = tables["participants"].set_index("participant_id")
    covariates = pd.DataFrame({
        "age": pd.to_numeric(people["age"], errors="coerce"),
        "male": people["sex"].map({"M": 1.0, "F": 0.0}),
        "ecog": pd.to_numeric(people["ecog"], errors="coerce"),
    }, index=people.index.astype(str)).astype(float)
    return derive(tables, settings).join(covariates, on="participant_id")  # type: ignore[arg-type]


def analysis_frame(session: Session, study: Study, *, outcome: str, timepoint: str, sample_type: str,
                   markers: list[str] | None = None, category: str | None = None) -> pd.DataFrame:
    """Return one row per participant of the outcome's population: outcome columns, covariates, marker values.

    Columns: participant_id, ``time``/``event`` (survival, in days) or ``outcome`` (0/1), ``draw_day``
    (survival: the day the sample was collected, on the outcome's clock), the covariates of ``COVARIATES``
    and one column per marker (named by its code) measured at ``timepoint`` on ``sample_type``.
    Markers with no value in the population are left out. Rows and columns are sorted, so the frame (and its
    hash) depends only on the data.
    """
    spec = OUTCOMES[outcome]
    variant = spec.variant or _default_variant(study)
    key = ("analysis_frame", study.id, outcome, variant, repr(endpoint_settings(study, variant)), timepoint,
           sample_type, tuple(markers or ()), category, utcnow().date())
    return cached(session, READS, key, lambda: build_frame(
        derived(session, study, variant), marker_values(session, study), spec, timepoint=timepoint,
        sample_type=sample_type, markers=markers, category=category)).copy()


def _default_variant(study: Study) -> str:
    return str((study.settings or {}).get("dfs_variant", "A"))


def build_frame(derived: pd.DataFrame, values: pd.DataFrame, spec: Outcome, *, timepoint: str,
                sample_type: str,
                markers: list[str] | None = None, category: str | None = None) -> pd.DataFrame:
    """Join endpoints (from ``derive`` plus covariates) and long marker values into the analysis frame."""
    if spec.kind == "binary":
        base = derived[["participant_id"]].copy()
        base["outcome"] = derived[spec.column].astype("Float64").astype(float)
        if spec.key in ("pcr", "mpr"):
            base = base[derived["resected"].astype(bool).to_numpy()]
        base = base[base["outcome"].notna()]
    else:
        base = derived[["participant_id"]].copy()
        base["time"] = derived[f"{spec.column}_time"].astype("Float64").astype(float)
        base["event"] = derived[f"{spec.column}_event"].astype("Float64").astype(float)
        base = base[base["time"].notna() & base["event"].notna()]
    base = base.join(derived.set_index("participant_id")[list(COVARIATES)], on="participant_id")
    chosen = values[(values["timepoint"] == timepoint) & (values["sample_type"] == sample_type)]
    if category:
        chosen = chosen[chosen["category"] == category]
    if markers:
        chosen = chosen[chosen["marker"].isin(markers)]
    chosen = chosen[chosen["participant_id"].isin(base["participant_id"])]
    wide = chosen.pivot_table(index="participant_id", columns="marker", values="value", aggfunc="mean")
    wide = wide.reindex(columns=sorted(wide.columns))
    wide.columns = [str(c) for c in wide.columns]
    base["participant_id"] = base["participant_id"].astype(str)
    if spec.kind == "survival":
        base["draw_day"] = _draw_day(derived, chosen, spec).reindex(base["participant_id"]).to_numpy()
    frame = base.join(wide, on="participant_id")
    # Only participants with a value of a chosen marker (and consent for marker research) are analysed.
    frame = frame[frame[list(wide.columns)].notna().any(axis=1)] if len(wide.columns) else frame.iloc[0:0]
    frame = frame.sort_values("participant_id", ignore_index=True)
    frame.attrs["excluded"] = dict(values.attrs.get("excluded", {}))
    return frame


def _draw_day(derived: pd.DataFrame, chosen: pd.DataFrame, spec: Outcome) -> pd.Series:
    """Each participant's day of collection on the outcome's clock (its origin is day 1), by participant_id.

    Collection days count from enrolment; an outcome timed from randomisation shifts them by the days from
    enrolment to randomisation. The earliest sample of the visit counts.
    """
    import pandas as pd

    day = chosen.groupby("participant_id")["day"].min()
    people = derived.assign(participant_id=derived["participant_id"].astype(str)).set_index("participant_id")
    from_rand = spec.column == "dfs" and str(people["dfs_t0"].iloc[0] if len(people) else "rand") == "rand"
    if spec.column == "os_rand" or from_rand:
        shift = (pd.to_datetime(people["rand_date"]) - pd.to_datetime(people["enrol_date"])).dt.days
        day = day - shift.reindex(day.index)
    return day.astype(float)


def marker_columns(frame: pd.DataFrame) -> list[str]:
    """Return the marker columns of an analysis frame."""
    fixed = {"participant_id", "outcome", "time", "event", "draw_day", *COVARIATES}
    return [c for c in frame.columns if c not in fixed]


def dataset_sha256(frame: pd.DataFrame) -> str:
    """Return the SHA-256 of the frame written as CSV with full float precision (stable across runs)."""
    text = frame.to_csv(index=False, float_format="%.17g", lineterminator="\n", na_rep="")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def with_groups(frame: pd.DataFrame, marker: str, transformed: pd.Series,
                cut: float | None = None) -> pd.DataFrame:
    """Return the frame with the transformed marker and its split at ``cut`` (default: the median).

    ``group`` reads "<marker> lower ..." for values <= cut and "<marker> upper ..." above, so the lower group
    sorts first and is the reference (HR upper vs lower, as the screen).
    """
    import numpy as np

    out = frame.assign(value=transformed)
    out = out[out["value"].notna()].copy()
    if cut is None:
        cut = float(np.median(out["value"])) if len(out) else float("nan")
        low, high = f"{marker} lower half", f"{marker} upper half"
    else:
        low, high = f"{marker} lower (<= {cut:.3g})", f"{marker} upper (> {cut:.3g})"
    out["group"] = np.where(out["value"] > cut, high, low)
    out.attrs["cut"] = cut
    return out
