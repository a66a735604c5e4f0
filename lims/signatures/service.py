"""Signature runs: check parameters, build the analysis frame, run nested CV, store and re-run runs.

The analysis frame is the results domain's (``lims.results.data``); this module only adds the outcome
"regrowth by one year" and the optional restriction to cCR participants, then hands the frame to
``analysis.signatures``. Runs are created ``queued`` by the request and executed by
``lims.signatures.runner``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.core.db import utcnow
from lims.core.errors import DomainError, NotFound
from lims.results import data
from lims.signatures.models import SignatureRun
from lims.signatures.parameters import (  # noqa: F401  (the package's face keeps these names)
    DEFAULT_THRESHOLDS,
    MODES,
    OUTCOMES,
    PENALTY_LABELS,
    PREDICTABLE,
    REGROWTH,
    REGROWTH_DAYS,
    SignatureOutcome,
    check_parameters,
    choices,
)
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd

    from analysis.signatures import FinalModel, ModelSpec, ValidationResult



@dataclass
class Comparison:
    """A re-run set beside its original: same input data, same numbers."""

    original: SignatureRun
    same_input: bool
    identical: bool
    differences: list[str]


def regrowth_by(tables: dict[str, pd.DataFrame], derived: pd.DataFrame,
                days: int = REGROWTH_DAYS) -> pd.Series:
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
    contact = tables["last_contact"].assign(participant_id=tables["last_contact"]["participant_id"]
                                            .astype(str))
    last = pd.to_datetime(ids.map(contact.set_index("participant_id")["last_disease_assessment_date"]))
    by_day = (first - rand).dt.days + 1 <= days
    followed = (last - rand).dt.days + 1 >= days
    out = pd.Series(np.where(by_day, 1.0, np.where(followed, 0.0, np.nan)), index=derived.index)
    out[~ww | rand.isna().to_numpy()] = np.nan
    return out


def frame_for(session: Session, study: Study, params: dict[str, Any], *,
              unresected: bool = False) -> pd.DataFrame:
    """Return the analysis frame of the parameters (``lims.results.data``), indexed by participant.

    ``unresected`` (pCR and MPR only): instead, the participants of the population who have no pathology
    result because they were not resected, with the outcome column empty - the patients the model is meant
    for.
    """
    import numpy as np


    outcome = OUTCOMES[params["outcome"]]
    variant = outcome.frame.variant or str((study.settings or {}).get("dfs_variant", "A"))
    tables = data.study_tables(session, study)
    derived = data.derived(session, study, variant)
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
    parts = [data.build_frame(derived, values, outcome.frame, timepoint=params["timepoint"],
                              sample_type=sample_type,
                              markers=params["markers"] or None, category=params["category"])
             .set_index("participant_id") for sample_type in params["sample_types"]]
    frame = parts[0]
    fixed = [c for c in frame.columns if c not in data.marker_columns(frame)]
    for sample_type, part in zip(params["sample_types"][1:], parts[1:], strict=True):
        # each part holds the participants with a value on its sample type: join them all, and tell apart a
        # marker measured on two sample types
        cols = data.marker_columns(part)
        frame = frame.join(part[cols]
                           .rename(columns={c: f"{c}_{sample_type}" for c in cols if c in frame.columns}),
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
    """Return the model spec for the frame: its marker columns, the forced covariates and the chosen
    design."""
    from analysis.signatures import BinaryOutcome, ModelSpec, SurvivalOutcome

    outcome = OUTCOMES[params["outcome"]]
    markers = marker_columns(frame, params)
    if not markers:
        where = f"{params['timepoint']} on {', '.join(params['sample_types'])}"
        raise DomainError(f"no marker values at {where} for the {outcome.label} population; choose another "
                          "time point, sample type or marker set")
    mode = MODES[params["mode"]]
    target = (BinaryOutcome(outcome.key, event=outcome.event)
              if outcome.kind == "binary" and outcome.event is not None else SurvivalOutcome("time", "event"))
    try:
        return ModelSpec(outcome=target, markers=tuple(markers), forced=params["covariates"],
                         transform=params["transform"], penalty=params["penalty"],
                         outer_folds=params["outer_folds"], inner_folds=params["inner_folds"],
                         repeats=mode["repeats"], permutations=mode["permutations"],
                         seeds=tuple(seeds) if seeds is not None else None,
                         horizon_days=365.0 if outcome.kind == "survival" else None)
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
    import numpy as np

    from analysis.signatures import dumps, fit_final, validate


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
    return spec, result, dumps(final)


def create_run(session: Session, study: Study, params: dict[str, Any], *, by: Any,
               rerun_of: SignatureRun | None = None) -> SignatureRun:
    """Queue a run of ``params`` (a re-run keeps the original's seeds); the runner executes it."""
    run = SignatureRun(study_id=study.id, by_id=getattr(by, "id", None),
                       by_username=getattr(by, "username", "?"),
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
    study = session.get_one(Study, run.study_id)
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
    out["provenance"] = {k: v for k, v in result["provenance"].items()
                         if k not in ("started_utc", "elapsed_seconds")}
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


def load_model(run: SignatureRun) -> FinalModel:
    """Return the run's exported final model, rebuilt from its JSON signature file (nothing is executed)."""
    from analysis.signatures import NotASignatureFile, loads

    if run.model is None:
        raise NotFound(f"signature run {run.id} has no final model")
    try:
        return loads(run.model)
    except NotASignatureFile as exc:  # e.g. a pickle stored before models became JSON: never unpickled
        raise DomainError(
            f"signature run {run.id}'s stored model cannot be loaded ({exc}); re-run it") from None


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
               + (f", markers {', '.join(params['markers'])}" if params.get("markers")
                  else ", every marker measured")
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
                          "markers_measured": X[[c for c in columns if c not in (run.spec or {})
                                                 .get("forced", [])]].notna().sum(axis=1)},
                         index=frame.index)
    return Predictions(table=table.sort_values("probability"), imputed_markers=missing,
                       thresholds=list(run.parameters["thresholds"]))
