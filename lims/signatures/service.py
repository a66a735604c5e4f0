"""Signature runs: check parameters, build the analysis frame, run nested CV, store and re-run runs.

The analysis frame is the results domain's (``lims.results.data``); this module only adds the outcome
"regrowth by one year" and the optional restriction to cCR participants, then hands the frame to
``analysis.signatures``. Runs are created ``queued`` by the request and executed by ``lims.signatures.runner``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.signatures.spec import PENALTIES, TRANSFORMS
from lims.clinical.service import clinical_tables
from lims.core.db import utcnow
from lims.core.errors import DomainError, NotFound
from lims.markers.models import CATEGORIES, Marker
from lims.results import data
from lims.signatures.models import SignatureRun
from lims.studies.models import SampleType, Study, TimePoint

if TYPE_CHECKING:
    import pandas as pd
    from analysis.signatures import ModelSpec, ValidationResult

REGROWTH_DAYS = 365
PREDICTABLE = ("pcr", "mpr")
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4)
# Full: the design. Quick: the same nested CV with fewer repeats and permutations (a few seconds).
MODES = {
    "quick": {"repeats": 2, "permutations": 19,
              "label": "Quick (2 repeats, 19 permutations: p cannot go below 0.05; a few seconds)"},
    "full": {"repeats": 5, "permutations": 200,
             "label": "Full (5 repeats, 200 permutations; tens of seconds)"},
}
PENALTY_LABELS = {"l1": "L1 (lasso)", "elasticnet": "Elastic net (L1 share 0.5)", "ridge": "Ridge (L2)",
                  "none": "None (unpenalised)"}


@dataclass(frozen=True)
class SignatureOutcome:
    """An outcome of the signatures page: the frame's outcome, which value the model predicts, and what it means."""

    key: str
    label: str
    kind: str
    frame: data.Outcome
    event: float | None
    event_label: str
    watch_and_wait: bool


REGROWTH = data.Outcome(
    "regrowth_1y", "Regrowth by 1 year", "binary", "regrowth_1y", None,
    f"Local regrowth within {REGROWTH_DAYS} days of randomisation among participants who followed watch and wait; "
    f"participants without regrowth whose last disease assessment came before day {REGROWTH_DAYS} are left out.")

OUTCOMES = {
    "pcr": SignatureOutcome("pcr", "pCR (predicts residual disease)", "binary", data.OUTCOMES["pcr"], 0.0,
                            "residual disease (no pCR)", True),
    "mpr": SignatureOutcome("mpr", "MPR (predicts no MPR)", "binary", data.OUTCOMES["mpr"], 0.0,
                            "no major pathological response", True),
    "ccr": SignatureOutcome("ccr", "cCR at CRE1 (predicts no cCR)", "binary", data.OUTCOMES["ccr"], 0.0,
                            "no cCR at CRE1", False),
    "regrowth_1y": SignatureOutcome("regrowth_1y", "Regrowth by 1 year (watch and wait)", "binary", REGROWTH, 1.0,
                                    f"local regrowth within {REGROWTH_DAYS} days", True),
    **{k: SignatureOutcome(k, o.label, "survival", o, None, "event", False)
       for k, o in data.OUTCOMES.items() if o.kind == "survival"},
}


@dataclass
class Comparison:
    """A re-run set beside its original: same input data, same numbers."""

    original: SignatureRun
    same_input: bool
    identical: bool
    differences: list[str]


def choices(session: Session, study: Study) -> dict[str, list[tuple[str, str]]]:
    """Return the options of the signatures form."""
    timepoints = session.scalars(select(TimePoint).where(TimePoint.study_id == study.id).order_by(TimePoint.order))
    types = session.scalars(select(SampleType).where(SampleType.study_id == study.id).order_by(SampleType.code))
    markers = session.scalars(select(Marker).order_by(Marker.category, Marker.code))
    return {
        "outcome": [(k, o.label) for k, o in OUTCOMES.items()],
        "timepoint": [(t.code, t.name) for t in timepoints],
        "sample_types": [(t.code, t.name) for t in types],
        "category": [("", "All markers"), *[(c, c) for c in CATEGORIES]],
        "markers": [(m.code, f"{m.code} ({m.category})") for m in markers],
        "covariates": list(data.COVARIATES.items()),
        "transform": [(t, t) for t in TRANSFORMS],
        "penalty": [(p, PENALTY_LABELS[p]) for p in PENALTIES],
        "mode": [(k, m["label"]) for k, m in MODES.items()],
    }


def _int(raw: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = raw.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise DomainError(f"{name.replace('_', ' ')} must be a whole number, got {value!r}", field=name) from None
    if not low <= number <= high:
        raise DomainError(f"{name.replace('_', ' ')} must be between {low} and {high}, got {number}", field=name)
    return number


def _list(raw: dict[str, Any], name: str) -> list[str]:
    value = raw.get(name) or []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [str(v).strip() for v in value if str(v).strip()]


def parse_thresholds(value: Any) -> list[float]:
    """Return the watch-and-wait thresholds from '0.1, 0.2' or a list; each strictly between 0 and 1."""
    items = value if isinstance(value, (list, tuple)) else str(value or "").replace(";", ",").replace(" ", ",")
    items = [v for v in (items.split(",") if isinstance(items, str) else items) if str(v).strip()]
    if not items:
        return list(DEFAULT_THRESHOLDS)
    out = []
    for item in items:
        try:
            t = float(item)
        except (TypeError, ValueError):
            raise DomainError(f"threshold {item!r} is not a number; give probabilities such as 0.1, 0.2",
                              field="thresholds") from None
        if not (math.isfinite(t) and 0 < t < 1):
            raise DomainError(f"threshold {t:g} must lie strictly between 0 and 1", field="thresholds")
        out.append(t)
    if len(out) > 12:
        raise DomainError("give at most 12 thresholds", field="thresholds")
    return sorted(set(out))


def check_parameters(session: Session, study: Study, raw: dict[str, Any]) -> dict[str, Any]:
    """Return clean run parameters from form or JSON input, or raise DomainError naming the field."""
    options = choices(session, study)

    def pick(name: str, default: str = "") -> str:
        value = str(raw.get(name) or default).strip()
        allowed = [k for k, _ in options[name]]
        if value not in allowed:
            raise DomainError(f"{name.replace('_', ' ')} must be one of {', '.join(a or '(all)' for a in allowed)};"
                              f" got {value!r}", field=name)
        return value

    outcome = pick("outcome", "pcr")
    params: dict[str, Any] = {
        "outcome": outcome, "timepoint": pick("timepoint", "BASELINE"),
        "category": pick("category") or None, "transform": pick("transform", "log2"),
        "penalty": pick("penalty", "l1"), "mode": pick("mode", "quick"),
        "outer_folds": _int(raw, "outer_folds", 5, 2, 10), "inner_folds": _int(raw, "inner_folds", 4, 2, 10),
        "ccr_only": str(raw.get("ccr_only", "")).lower() in ("1", "true", "on", "yes"),
        "thresholds": parse_thresholds(raw.get("thresholds")),
    }
    kinds = [k for k, _ in options["sample_types"]]
    sample_types = [t for t in kinds if t in set(_list(raw, "sample_types"))]
    unknown_types = sorted(set(_list(raw, "sample_types")) - set(kinds))
    if unknown_types or not sample_types:
        raise DomainError(f"choose one or more sample types from {', '.join(kinds)}"
                          + (f"; unknown: {', '.join(unknown_types)}" if unknown_types else ""), field="sample_types")
    params["sample_types"] = sample_types
    known = {k for k, _ in options["markers"]}
    markers = sorted(set(_list(raw, "markers")))
    unknown = [m for m in markers if m not in known]
    if unknown:
        raise DomainError(f"unknown marker(s) {', '.join(unknown)}; pick markers from the catalogue",
                          field="markers")
    params["markers"] = markers
    covariates = _list(raw, "covariates")
    bad = [c for c in covariates if c not in data.COVARIATES]
    if bad:
        raise DomainError(f"unknown baseline covariate(s) {', '.join(bad)}; use {', '.join(data.COVARIATES)}",
                          field="covariates")
    params["covariates"] = [c for c in data.COVARIATES if c in covariates]
    if params["ccr_only"] and outcome not in ("pcr", "mpr"):
        raise DomainError("'only cCR participants' applies to pCR and MPR (the watch-and-wait question among "
                          "resected cCR participants)", field="ccr_only")
    return params


def regrowth_by(tables: dict[str, pd.DataFrame], derived: pd.DataFrame, days: int = REGROWTH_DAYS) -> pd.Series:
    """Return 1/0/NA per participant: local regrowth within ``days`` of randomisation under watch and wait."""
    import numpy as np
    import pandas as pd
    from analysis.endpoints import regrowth_counts

    ww = derived["actual_strategy"].astype("string").eq("watch_and_wait").fillna(False).to_numpy(dtype=bool)
    rand = pd.to_datetime(derived["rand_date"])
    ids = derived["participant_id"].astype(str)
    regrowth = regrowth_counts(tables, "A")
    first = regrowth.assign(participant_id=regrowth["participant_id"].astype(str)).groupby("participant_id")[
        "date"].min()
    first = pd.to_datetime(ids.map(first))
    contact = tables["last_contact"].assign(participant_id=tables["last_contact"]["participant_id"].astype(str))
    last = pd.to_datetime(ids.map(contact.set_index("participant_id")["last_disease_assessment_date"]))
    by_day = (first - rand).dt.days + 1 <= days
    followed = (last - rand).dt.days + 1 >= days
    out = pd.Series(np.where(by_day, 1.0, np.where(followed, 0.0, np.nan)), index=derived.index)
    out[~ww | rand.isna().to_numpy()] = np.nan
    return out


def frame_for(session: Session, study: Study, params: dict[str, Any], *, unresected: bool = False) -> pd.DataFrame:
    """Return the analysis frame of the parameters (``lims.results.data``), indexed by participant.

    ``unresected`` (pCR and MPR only): instead, the participants of the population who have no pathology result
    because they were not resected, with the outcome column empty - the patients the model is meant for.
    """
    import numpy as np

    outcome = OUTCOMES[params["outcome"]]
    variant = outcome.frame.variant or str((study.settings or {}).get("dfs_variant", "A"))
    tables = clinical_tables(session, study)
    derived = data.endpoints(tables, study, variant)
    if outcome.key == "regrowth_1y":
        derived = derived.assign(regrowth_1y=regrowth_by(tables, derived))
    if params.get("ccr_only"):
        derived = derived[derived["ccr_cre1"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    if unresected:
        if outcome.key not in PREDICTABLE:
            raise DomainError(f"predictions for unresected participants apply to {', '.join(PREDICTABLE)}")
        waiting = ~derived["resected"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        # the frame builder keeps resected participants with an outcome: mark the others so it keeps them
        derived = derived[waiting].assign(resected=True, **{outcome.frame.column: 0.0})
    values = data.marker_values(session, study)
    parts = [data.build_frame(derived, values, outcome.frame, timepoint=params["timepoint"], sample_type=sample_type,
                              markers=params["markers"] or None, category=params["category"])
             .set_index("participant_id") for sample_type in params["sample_types"]]
    frame = parts[0]
    fixed = [c for c in frame.columns if c not in data.marker_columns(frame)]
    for sample_type, part in zip(params["sample_types"][1:], parts[1:]):
        # each part holds the participants with a value on its sample type: join them all, and tell apart a
        # marker measured on two sample types
        cols = data.marker_columns(part)
        frame = frame.join(part[cols].rename(columns={c: f"{c}_{sample_type}" for c in cols if c in frame.columns}),
                           how="outer")
        frame[fixed] = frame[fixed].combine_first(part[fixed])
    frame = frame.sort_index()
    frame.attrs["excluded"] = dict(parts[0].attrs.get("excluded", {}))
    if outcome.kind == "binary":
        frame = frame.rename(columns={"outcome": outcome.key})  # the methods paragraph names the outcome
    if unresected:
        frame[outcome.key] = np.nan
    return frame


def marker_columns(frame: pd.DataFrame, params: dict[str, Any]) -> list[str]:
    """Return the marker columns of a frame from ``frame_for``."""
    outcome = OUTCOMES[params["outcome"]]
    fixed = {outcome.key, "time", "event", *data.COVARIATES} if outcome.kind == "binary" else \
        {"time", "event", *data.COVARIATES}
    return [c for c in frame.columns if c not in fixed]


def build_spec(frame: pd.DataFrame, params: dict[str, Any], seeds: list[int] | None = None) -> ModelSpec:
    """Return the model spec for the frame: its marker columns, the forced covariates and the chosen design."""
    from analysis.signatures import BinaryOutcome, ModelSpec, SurvivalOutcome

    outcome = OUTCOMES[params["outcome"]]
    markers = marker_columns(frame, params)
    if not markers:
        where = f"{params['timepoint']} on {', '.join(params['sample_types'])}"
        raise DomainError(f"no marker values at {where} for the {outcome.label} population; choose another "
                          "time point, sample type or marker set")
    mode = MODES[params["mode"]]
    target = (BinaryOutcome(outcome.key, event=outcome.event) if outcome.kind == "binary"
              else SurvivalOutcome("time", "event"))
    try:
        return ModelSpec(outcome=target, markers=markers, forced=params["covariates"],
                         transform=params["transform"], penalty=params["penalty"],
                         outer_folds=params["outer_folds"], inner_folds=params["inner_folds"],
                         repeats=mode["repeats"], permutations=mode["permutations"],
                         seeds=seeds, horizon_days=365.0 if outcome.kind == "survival" else None)
    except ValueError as exc:
        raise DomainError(f"the model cannot be set up: {exc}") from None


def _table(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    import numpy as np

    if frame is None:
        return None
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else
                 v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def compute(frame: pd.DataFrame, params: dict[str, Any],
            seeds: list[int] | None = None) -> tuple[ModelSpec, dict[str, Any], bytes]:
    """Validate the model by nested CV and fit the final model; return spec, result JSON and model bytes."""
    import joblib
    import numpy as np
    from analysis.signatures import fit_final, validate
    from analysis.signatures.model import FORMAT as MODEL_FORMAT

    spec = build_spec(frame, params, seeds)
    outcome = OUTCOMES[params["outcome"]]
    try:
        with np.errstate(all="ignore"):
            validation: ValidationResult = validate(frame, spec)
            final = fit_final(frame, spec)
    except ValueError as exc:
        raise DomainError(f"the model cannot run on these data: {exc}") from None
    result = validation.to_dict()
    result["provenance"].pop("elapsed_seconds", None)
    result["final_model"] = {"lambda": final.lam, "coefficients": _table(final.coefficients()),
                             "selected": final.selected_markers()}
    result["watch_and_wait"] = (_table(validation.watch_and_wait(params["thresholds"]))
                                if outcome.watch_and_wait else None)
    buffer = io.BytesIO()
    joblib.dump({"format": MODEL_FORMAT, "versions": final.versions, "model": final}, buffer)
    return spec, result, buffer.getvalue()


def create_run(session: Session, study: Study, params: dict[str, Any], *, by: Any,
               rerun_of: SignatureRun | None = None) -> SignatureRun:
    """Queue a run of ``params`` (a re-run keeps the original's seeds); the runner executes it."""
    run = SignatureRun(study_id=study.id, by_id=getattr(by, "id", None), by_username=getattr(by, "username", "?"),
                       status="queued", parameters=params, rerun_of_id=rerun_of.id if rerun_of else None,
                       seeds=list(rerun_of.seeds) if rerun_of and rerun_of.seeds else None)
    session.add(run)
    session.flush()
    return run


def mark_running(session: Session, run: SignatureRun) -> None:
    """Mark a queued run as running."""
    if run.status != "queued":
        raise DomainError(f"signature run {run.id} is {run.status}, not queued")
    run.status = "running"
    run.started_at = utcnow()
    session.flush()


def execute_run(session: Session, run: SignatureRun) -> SignatureRun:
    """Build the frame and compute the run, storing spec, seeds, hash, versions, result and model bytes."""
    study = session.get(Study, run.study_id)
    frame = frame_for(session, study, run.parameters)
    spec, result, model = compute(frame, run.parameters, run.seeds)
    return store_result(session, run, frame, spec, result, model)


def store_result(session: Session, run: SignatureRun, frame: pd.DataFrame, spec: Any, result: dict[str, Any],
                 model: bytes) -> SignatureRun:
    """Store a computed run: spec, seeds, input hash, versions, result and model bytes; the run is done."""
    provenance = result["provenance"]
    run.spec = spec.to_dict()
    run.seeds = list(spec.seeds)
    run.dataset_sha256 = provenance["dataset_sha256"]
    run.dataset_rows = len(frame)
    run.versions = provenance["versions"]
    result["consent_excluded"] = {str(k): int(v) for k, v in frame.attrs.get("excluded", {}).items()}
    run.result = result
    run.model = model
    run.status = "done"
    run.finished_at = utcnow()
    run.elapsed_seconds = (run.finished_at - run.started_at).total_seconds() if run.started_at else None
    session.flush()
    return run


def fail_run(session: Session, run: SignatureRun, message: str) -> None:
    """Record why a run could not complete."""
    run.status = "failed"
    run.error = message
    run.finished_at = utcnow()
    session.flush()


def get_run(session: Session, study: Study, run_id: int) -> SignatureRun:
    """Return the study's signature run ``run_id`` or raise NotFound."""
    run = session.get(SignatureRun, run_id)
    if run is None or run.study_id != study.id:
        raise NotFound(f"no signature run {run_id}")
    return run


def recent_runs(session: Session, study: Study, limit: int = 20) -> list[SignatureRun]:
    """Return the latest runs of the study, newest first."""
    return list(session.scalars(select(SignatureRun).where(SignatureRun.study_id == study.id)
                                .order_by(SignatureRun.id.desc()).limit(limit)))


def _numbers(result: dict[str, Any]) -> dict[str, Any]:
    """The result without the parts that legitimately change between runs (time stamps)."""
    out = dict(result)
    out["provenance"] = {k: v for k, v in result["provenance"].items() if k not in ("started_utc", "elapsed_seconds")}
    return out


def compare(session: Session, run: SignatureRun) -> Comparison | None:
    """Compare a finished re-run with its original: input hash and every number of the result."""
    if run.rerun_of_id is None or run.status != "done":
        return None
    original = session.get(SignatureRun, run.rerun_of_id)
    if original is None or original.status != "done":
        return None
    old, new = _numbers(original.result or {}), _numbers(run.result or {})
    differences = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return Comparison(original=original, same_input=original.dataset_sha256 == run.dataset_sha256,
                      identical=not differences, differences=differences)


def load_model(run: SignatureRun) -> Any:
    """Return the run's exported final model (``analysis.signatures.FinalModel``)."""
    from analysis.signatures.model import load

    if run.model is None:
        raise NotFound(f"signature run {run.id} has no final model")
    return load(io.BytesIO(run.model))


def conditions(params: dict[str, Any]) -> list[str]:
    """Return the sentences saying what population and data a run is conditioned on."""
    outcome = OUTCOMES[params["outcome"]]
    out = [outcome.frame.condition]
    if params.get("ccr_only"):
        out.append("Restricted to participants with cCR at CRE1 (the watch-and-wait population).")
    if outcome.kind == "binary":
        out.append(f"The model predicts the probability of {outcome.event_label}.")
    out.append(f"Marker values at {params['timepoint']} on {', '.join(params['sample_types'])}"
               + (f", {params['category']} markers" if params.get("category") else "")
               + (f", markers {', '.join(params['markers'])}" if params.get("markers") else ", every marker measured")
               + f"; transform {params['transform']}.")
    if params.get("covariates"):
        out.append("Forced baseline covariates (never penalised): "
                   + ", ".join(data.COVARIATES[c] for c in params["covariates"]) + ".")
    out.append(f"Mode: {MODES[params['mode']]['label']}.")
    return out


@dataclass
class Predictions:
    """The final model applied to unresected participants: probability of the event per participant."""

    table: pd.DataFrame
    imputed_markers: list[str]
    thresholds: list[float]


def predict_unresected(session: Session, study: Study, run: SignatureRun) -> Predictions | None:
    """Apply the run's final model to the population's unresected participants (pCR/MPR runs), or None."""
    import pandas as pd

    if run.status != "done" or run.parameters["outcome"] not in PREDICTABLE:
        return None
    model = load_model(run)
    frame = frame_for(session, study, run.parameters, unresected=True)
    columns = model.required_columns
    # a marker none of these participants has is imputed with the training median, and said so
    missing = [c for c in columns if c not in frame.columns or frame[c].isna().all()]
    X = frame.reindex(columns=columns).astype(float)
    table = pd.DataFrame({"probability": model.predict(X) if len(X) else pd.Series(dtype=float),
                          "markers_measured": X[[c for c in columns if c not in run.spec["forced"]]].notna().sum(axis=1)},
                         index=frame.index)
    return Predictions(table=table.sort_values("probability"), imputed_markers=missing,
                       thresholds=list(run.parameters["thresholds"]))
