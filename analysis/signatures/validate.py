"""Honest validation of a multi-marker model: repeated nested CV, permutation test, selection frequency.

Interval choices (and why):
- Binary AUC: the point estimate is the mean over repeats of the AUC of each repeat's pooled out-of-fold
  predictions. The 95% CI is that mean ± 1.96 × √(mean DeLong variance of those pooled AUCs). DeLong treats
  the out-of-fold predictions as fixed scores, so it ignores the variance added by refitting in each fold and
  is somewhat optimistic (Bates, Hastie & Tibshirani, JASA 2023); the repeat-to-repeat range is given
  separately (``auc_by_repeat``) and mainly shows fold-split noise, not sampling error, so it is not used as
  the CI.
- Survival: Harrell's C of the pooled out-of-fold linear predictors, mean over repeats; CI from a
  patient-level bootstrap standard error (200 resamples per repeat, averaged), with the same caveat.
- Permutation p: the whole nested CV (preprocessing, tuning, fitting) is rerun with predictor rows permuted
  against the outcome, using the first repeat's folds; the statistic is the first repeat's pooled AUC (or C)
  and p = (1 + #{permuted ≥ observed}) / (1 + permutations) (Phipson & Smyth 2010). With forced clinical
  covariates this tests the whole model, not the markers' added value.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.calibration import calibration_points, calibration_slope_intercept
from analysis.decision import decision_curve as _decision_curve
from analysis.decision import watch_and_wait_table

from . import metrics
from .checks import Prepared, prepare
from .engine import JobResult, make_design, run_jobs
from .provenance import dataset_sha256, package_versions, utc_now
from .solver import CoxLoss, solve_path
from .spec import ModelSpec

N_BOOT_C = 200


@dataclass
class ValidationResult:
    """Everything a nested-CV run produced; ``to_dict()`` is JSON-serialisable."""

    spec: ModelSpec
    kind: str
    n: int
    n_events: int
    n_dropped: int
    auc: float | None
    auc_ci: tuple[float, float] | None
    auc_by_repeat: list[float]
    cindex: float | None
    cindex_ci: tuple[float, float] | None
    cindex_by_repeat: list[float]
    td_auc: float | None
    calibration: dict
    permutation_p: float | None
    permutation_stats: list[float]
    observed_stat: float
    selection: pd.DataFrame
    fold_table: pd.DataFrame
    predictions: pd.DataFrame
    decision_curve: pd.DataFrame | None
    provenance: dict
    notes: list[str] = field(default_factory=list)

    def watch_and_wait(self, thresholds: object, per: int = 100) -> pd.DataFrame:
        """Watch-and-wait table on the repeat-averaged out-of-fold predictions (event = residual disease)."""
        if self.kind != "binary":
            raise ValueError("watch_and_wait needs a binary outcome whose event is residual disease")
        p = self.predictions
        return watch_and_wait_table(p["y"], p["prob_mean"], thresholds, per=per)

    def methods_text(self) -> str:
        """A methods paragraph describing exactly what was done."""
        s = self.spec
        out = s.outcome
        what = (f"the binary outcome {out.column} (event = {out.event!r}; {self.n_events} events)"
                if out.kind == "binary" else
                f"time to event ({out.time}, {out.event}; {self.n_events} events)")
        model = ("penalised logistic regression" if self.kind == "binary"
                 else "a penalised Cox proportional-hazards model (Breslow partial likelihood)")
        pen = {"l1": "an L1 (lasso) penalty", "elasticnet": f"an elastic-net penalty (L1 share {s.l1_ratio})",
               "ridge": "a ridge (L2) penalty", "none": "no penalty"}[s.penalty]
        forced = (f" The baseline covariates {', '.join(s.forced)} were always included and not penalised."
                  if s.forced else "")
        tr = s.transform if isinstance(s.transform, str) else "per-marker transforms " + ", ".join(
            f"{k}: {v}" for k, v in s.transform.items())
        tuning = ("" if s.penalty == "none" else
                  f" Within each outer training set the penalty was chosen from {s.n_lambda} log-spaced "
                  "values (from the smallest penalty that excludes every marker down to "
                  f"{s.lambda_min_ratio} times it) by {s.inner_folds}-fold stratified inner "
                  "cross-validation, minimising "
                  + ("the log-loss" if self.kind == "binary" else "the cross-validated partial likelihood")
                  + " (ties to the larger penalty).")
        if self.kind == "binary":
            perf = (f"The cross-validated AUC was {self.auc:.3f} (95% CI {_ci(self.auc_ci)}; "
                    "DeLong variance of the pooled out-of-fold predictions, averaged over repeats); "
                    f"calibration slope {self.calibration['slope']:.2f}, calibration-in-the-large "
                    f"{self.calibration['intercept']:.2f}.")
        else:
            perf = (f"Harrell's C of the pooled out-of-fold linear predictors was {self.cindex:.3f} "
                    f"(95% CI {_ci(self.cindex_ci)}, patient bootstrap).")
            if self.td_auc is not None:
                perf += f" The IPCW cumulative/dynamic AUC at {s.horizon_days:g} days was {self.td_auc:.3f}."
        perm = ("" if self.permutation_p is None else
                f" A permutation test reran the entire nested procedure {s.permutations} times with the "
                f"outcome permuted against the predictors (p = {self.permutation_p:.3g}).")
        return (
            f"We modelled {what} in {self.n} patients ({self.n_dropped} excluded for a missing outcome) with "
            f"{model} using {pen} on {len(s.markers)} candidate markers.{forced} Markers were transformed "
            f"({tr}), median-imputed and standardised with parameters learnt on each training set only. "
            f"Performance was estimated by nested cross-validation: {s.outer_folds}-fold outer "
            f"cross-validation stratified by {'outcome' if self.kind == 'binary' else 'event status'}, "
            f"repeated {s.repeats} times (seeds {', '.join(map(str, s.repeat_seeds))}).{tuning} {perf}{perm} "
            f"Selection frequency is the share of the {s.repeats * s.outer_folds} outer-fold models in which "
            f"a marker had a non-zero coefficient. Software: numpy {self.provenance['versions']['numpy']}, "
            f"scikit-learn {self.provenance['versions']['scikit-learn']}, lifelines "
            f"{self.provenance['versions']['lifelines']}; dataset SHA-256 "
            f"{self.provenance['dataset_sha256'][:16]}…."
        )

    def to_dict(self) -> dict:
        """JSON-serialisable summary (tables as lists of records)."""
        def recs(df: pd.DataFrame | None) -> list | None:
            return None if df is None else _jsonable(df.to_dict(orient="records"))

        cal = {k: (recs(v) if isinstance(v, pd.DataFrame) else _jsonable(v))
               for k, v in self.calibration.items()}
        return _jsonable({
            "kind": self.kind, "n": self.n, "n_events": self.n_events, "n_dropped": self.n_dropped,
            "auc": self.auc, "auc_ci": self.auc_ci, "auc_by_repeat": self.auc_by_repeat,
            "cindex": self.cindex, "cindex_ci": self.cindex_ci, "cindex_by_repeat": self.cindex_by_repeat,
            "td_auc": self.td_auc, "calibration": cal, "permutation_p": self.permutation_p,
            "observed_stat": self.observed_stat, "permutation_stats": self.permutation_stats,
            "selection": recs(self.selection), "fold_table": recs(self.fold_table),
            "decision_curve": recs(self.decision_curve), "provenance": self.provenance,
            "methods": self.methods_text(), "notes": self.notes,
        })


def _ci(ci: tuple[float, float] | None) -> str:
    return "not estimable" if ci is None else f"{ci[0]:.3f}–{ci[1]:.3f}"


def _jsonable(obj: object) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def _nanmean(values: object) -> float:
    """Mean ignoring NaN; NaN (without a warning) when nothing is finite, e.g. a constant prediction."""
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else float("nan")


def _stat(prep: Prepared, oof: np.ndarray) -> float:
    if prep.kind == "binary":
        return metrics.delong_auc(prep.y, oof)[0]
    return metrics.harrell_c(prep.times, prep.y, oof)


def validate(df: pd.DataFrame, spec: ModelSpec, *, permutations: int | None = None) -> ValidationResult:
    """Run repeated nested cross-validation (+ permutation test) of ``spec`` on ``df``."""
    t0 = _time.perf_counter()
    started = utc_now()
    prep = prepare(df, spec)
    B = spec.permutations if permutations is None else permutations
    inner = None if spec.penalty == "none" else spec.inner_folds
    designs = [make_design(prep.strata, spec.outer_folds, inner, s) for s in spec.repeat_seeds]
    runs = run_jobs(prep, spec, [(prep.X, d) for d in designs])
    perm_seed = int(spec.repeat_seeds[0]) * 7919 + 17
    rng = np.random.default_rng(perm_seed)
    perm_jobs = [(prep.X[rng.permutation(prep.n)], designs[0]) for _ in range(B)]
    perm_runs = run_jobs(prep, spec, perm_jobs) if B else []
    observed = _stat(prep, runs[0].oof)
    perm_stats = [_stat(prep, r.oof) for r in perm_runs]
    p_value = (1 + sum(s >= observed for s in perm_stats)) / (1 + B) if B else None

    preds = _predictions(prep, runs)
    fold_table = _fold_table(prep, spec, designs, runs)
    selection = _selection(spec, runs)
    notes = []
    if not fold_table["converged"].all():
        notes.append(f"{(~fold_table['converged']).sum()} outer-fold fits reached max_iter={spec.max_iter} "
                     "before the tolerance; raise max_iter or loosen tol")
    auc = auc_ci = cindex = cindex_ci = td = dc = None
    auc_rep: list[float] = []
    c_rep: list[float] = []
    if prep.kind == "binary":
        res = [metrics.delong_auc(prep.y, r.oof) for r in runs]
        auc_rep = [a for a, _ in res]
        auc = float(np.mean(auc_rep))
        half = 1.96 * np.sqrt(_nanmean([v for _, v in res]))
        auc_ci = (max(0.0, auc - half), min(1.0, auc + half))
        cals = [calibration_slope_intercept(prep.y, r.oof) for r in runs]
        calibration = {
            "slope": float(_nanmean([c["slope"] for c in cals])),
            "intercept": float(_nanmean([c["intercept"] for c in cals])),
            "slope_by_repeat": [c["slope"] for c in cals],
            "intercept_by_repeat": [c["intercept"] for c in cals],
            "points": calibration_points(prep.y, preds["prob_mean"].to_numpy()),
        }
        dcs = [_decision_curve(prep.y, r.oof) for r in runs]
        dc = dcs[0].copy()
        dc["net_benefit_model"] = np.mean([d["net_benefit_model"] for d in dcs], axis=0)
        dc = dc[["threshold", "net_benefit_model", "net_benefit_all", "net_benefit_none"]]
    else:
        c_rep = [metrics.harrell_c(prep.times, prep.y, r.oof) for r in runs]
        cindex = float(np.mean(c_rep))
        se = _nanmean([metrics.bootstrap_c_se(prep.times, prep.y, r.oof, N_BOOT_C, s)
                         for r, s in zip(runs, spec.repeat_seeds, strict=True)])
        cindex_ci = (max(0.0, cindex - 1.96 * se), min(1.0, cindex + 1.96 * se))
        if spec.horizon_days is not None:
            td = float(_nanmean([metrics.cumulative_dynamic_auc(prep.times, prep.y, r.oof, spec.horizon_days)
                                   for r in runs]))
        slopes = [_cox_slope(prep, r.oof) for r in runs]
        calibration = {"slope": float(_nanmean(slopes)), "slope_by_repeat": slopes}
    provenance = {
        "params": spec.to_dict(),
        "seeds": list(spec.repeat_seeds),
        "permutation_seed": perm_seed,
        "permutations": B,
        "dataset_sha256": dataset_sha256(df, spec.columns),
        "dataset_columns": spec.columns,
        "n_rows_input": len(df),
        "versions": package_versions(),
        "started_utc": started,
        "elapsed_seconds": round(_time.perf_counter() - t0, 3),
    }
    return ValidationResult(
        spec=spec, kind=prep.kind, n=prep.n, n_events=prep.n_events, n_dropped=prep.n_dropped,
        auc=auc, auc_ci=auc_ci, auc_by_repeat=auc_rep, cindex=cindex, cindex_ci=cindex_ci,
        cindex_by_repeat=c_rep, td_auc=td, calibration=calibration, permutation_p=p_value,
        permutation_stats=perm_stats, observed_stat=observed, selection=selection, fold_table=fold_table,
        predictions=preds, decision_curve=dc, provenance=provenance, notes=notes,
    )


def _cox_slope(prep: Prepared, lp: np.ndarray) -> float:
    """Calibration slope for survival: unpenalised Cox coefficient of the out-of-fold linear predictor."""
    X = lp[None, :, None]
    path = solve_path(CoxLoss(prep.times, prep.y), X, np.ones((1, prep.n)), np.zeros((1, 1)), 1.0,
                      np.zeros(1), kind="cox", tol=1e-8, max_iter=5000)
    return float(path.coef[0, 0, 0]) if path.converged[0, 0] else float("nan")


def _predictions(prep: Prepared, runs: list[JobResult]) -> pd.DataFrame:
    col = "prob" if prep.kind == "binary" else "lp"
    data = {f"{col}_r{i + 1}": r.oof for i, r in enumerate(runs)}
    df = pd.DataFrame(data, index=prep.index)
    df[f"{col}_mean"] = df[list(data)].mean(axis=1)
    df["y"] = prep.y.astype(int)
    if prep.kind == "survival":
        df["time"] = prep.time
    return df


def _fold_table(prep: Prepared, spec: ModelSpec, designs: list, runs: list[JobResult]) -> pd.DataFrame:
    rows = []
    for r, (design, run) in enumerate(zip(designs, runs, strict=False)):
        for f, (train, test) in enumerate(design.outer):
            yt = prep.y[test]
            if prep.kind == "binary":
                metric = metrics.delong_auc(yt, run.oof[test])[0] if 0 < yt.sum() < len(yt) else np.nan
            else:
                metric = metrics.harrell_c(prep.times[test], yt, run.oof[test]) if yt.sum() > 0 else np.nan
            rows.append({
                "repeat": r + 1, "seed": design.seed, "fold": f + 1, "n_train": len(train),
                "n_test": len(test),
                "events_train": int(prep.y[train].sum()), "events_test": int(yt.sum()),
                "lambda": float(run.lam[f]), "lambda_index": int(run.lam_index[f]),
                "n_markers_selected": int((run.coef[f][len(spec.forced):] != 0).sum()),
                "auc" if prep.kind == "binary" else "cindex": metric,
                "converged": bool(run.converged[f]),
            })
    return pd.DataFrame(rows)


def _selection(spec: ModelSpec, runs: list[JobResult]) -> pd.DataFrame:
    coefs = np.vstack([r.coef for r in runs])[:, len(spec.forced):]
    nz = coefs != 0
    freq = nz.mean(axis=0)
    with np.errstate(invalid="ignore"):
        mean_coef = np.where(nz.any(axis=0), (coefs * nz).sum(axis=0) / np.maximum(nz.sum(axis=0), 1), 0.0)
        positive = np.where(nz.any(axis=0), (coefs > 0).sum(axis=0) / np.maximum(nz.sum(axis=0), 1), np.nan)
    out = pd.DataFrame({"marker": list(spec.markers), "frequency": freq, "mean_coef_when_selected": mean_coef,
                        "share_positive": positive})
    return out.sort_values(["frequency", "marker"], ascending=[False, True],
                           kind="mergesort").reset_index(drop=True)
