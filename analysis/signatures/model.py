"""The final model: tuned on all data, a scikit-learn Pipeline with its column schema (file format:
export.py).

``fit_final`` chooses the penalty by ``inner_folds``-fold CV on all patients (loss curves averaged over the
spec's seeds) and fits preprocessing + model on all patients. Its apparent performance is optimistic: quote
the nested-CV figures from :func:`validate` for the model-building procedure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.pipeline import Pipeline

from .checks import prepare
from .engine import Design, fixed_ridge, make_design, penalty_factors, run_jobs
from .preprocess import MarkerPreprocessor
from .provenance import dataset_sha256, package_versions, utc_now
from .solver import CoxLoss, LogisticLoss, initial_step, lambda_grid, lambda_max, null_solution, solve_path
from .spec import ModelSpec


def _path_to(loss: LogisticLoss | CoxLoss, X: np.ndarray, lam: float, alpha: float, pf: np.ndarray, kind: str,
             tol: float, max_iter: int, n_lambda: int = 12) -> tuple[np.ndarray, bool]:
    """Fit one problem at ``lam``, warm-starting down a grid from lambda_max (robust for small penalties)."""
    X = X[None]
    W = np.ones((1, X.shape[1]))
    step = initial_step(X, W, kind, 0.0 if loss.l2 is None else float(loss.l2.max()))
    beta0 = null_solution(loss, X, W, pf, step)
    lmax = float(lambda_max(loss, X, W, beta0, alpha, pf)[0])
    grid = lambda_grid(np.array([lmax]), n_lambda, 1e-3)[0] if lmax > 0 else np.array([])
    lams = np.r_[grid[grid > lam], lam][None]
    path = solve_path(loss, X, W, lams, alpha, pf, kind=kind, tol=tol, max_iter=max_iter, beta_start=beta0)
    return path.coef[0, -1], bool(path.converged[0, -1])


class _Penalised(BaseEstimator):
    """The hyper-parameters both penalised models share (sklearn reads them from this signature)."""

    def __init__(self, lam: float = 0.01, alpha: float = 1.0, penalty_factor: np.ndarray | None = None,
                 l2_fixed: np.ndarray | None = None, tol: float = 1e-6, max_iter: int = 3000) -> None:
        self.lam = lam
        self.alpha = alpha
        self.penalty_factor = penalty_factor
        self.l2_fixed = l2_fixed
        self.tol = tol
        self.max_iter = max_iter


class PenalisedLogistic(ClassifierMixin, _Penalised):
    """Logistic regression with an elastic-net penalty ``lam`` and per-column penalty factors.

    Objective: mean log-loss + lam * sum_j pf_j (alpha |b_j| + (1 - alpha)/2 b_j^2); the intercept is never
    penalised. ``penalty_factor`` (one per column, default 1) lets forced covariates have 0; ``l2_fixed`` (one
    per column) adds a fixed ridge 0.5 * l2_j * b_j^2 that does not scale with ``lam``.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> PenalisedLogistic:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        pf = np.ones(X.shape[1]) if self.penalty_factor is None else np.asarray(self.penalty_factor, float)
        l2 = None if self.l2_fixed is None else np.r_[0.0, np.asarray(self.l2_fixed, float)]
        coef, self.converged_ = _path_to(LogisticLoss(y, l2), np.c_[np.ones(len(X)), X], self.lam, self.alpha,
                                         np.r_[0.0, pf], "binary", self.tol, self.max_iter)
        self.intercept_, self.coef_ = float(coef[0]), coef[1:]
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float) @ self.coef_ + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.c_[1 - p, p]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)


class PenalisedCox(RegressorMixin, _Penalised):
    """Cox model (Breslow partial likelihood) with an elastic-net penalty and per-column penalty factors.

    ``fit(X, y)`` takes y as an (n, 2) array of (time, event). ``predict`` returns the linear predictor;
    ``predict_risk(X, t)`` the Breslow-estimated probability of an event by time t.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> PenalisedCox:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        order = np.argsort(y[:, 0], kind="mergesort")
        t, e, Xs = y[order, 0], y[order, 1], X[order]
        pf = np.ones(X.shape[1]) if self.penalty_factor is None else np.asarray(self.penalty_factor, float)
        l2 = None if self.l2_fixed is None else np.asarray(self.l2_fixed, float)
        self.coef_, self.converged_ = _path_to(CoxLoss(t, e, l2), Xs, self.lam, self.alpha, pf, "cox",
                                               self.tol, self.max_iter)
        # Breslow cumulative baseline hazard at each distinct event time
        risk = np.exp(Xs @ self.coef_)
        times = np.unique(t[e == 1])
        H = np.cumsum([e[t == s].sum() / risk[t >= s].sum() for s in times])
        self.baseline_times_, self.baseline_cumhaz_ = times, H
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float) @ self.coef_

    def predict_risk(self, X: np.ndarray, t: float) -> np.ndarray:
        i = np.searchsorted(self.baseline_times_, t, side="right") - 1
        H0 = self.baseline_cumhaz_[i] if i >= 0 else 0.0
        return 1.0 - np.exp(-H0 * np.exp(self.predict(X)))


@dataclass
class FinalModel:
    """A fitted signature: preprocessing + penalised model, the columns it needs and how it was made."""

    spec: ModelSpec
    pipeline: Pipeline
    lam: float
    required_columns: list[str]
    dataset_sha256: str
    versions: dict
    created_utc: str
    cv_loss: list[float] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.spec.outcome.kind

    def coefficients(self) -> pd.DataFrame:
        """Coefficients per standardised predictor (forced first); zero = not selected."""
        est = self.pipeline.named_steps["model"]
        return pd.DataFrame({"predictor": self.required_columns, "coef": est.coef_,
                             "forced": [c in self.spec.forced for c in self.required_columns]})

    def selected_markers(self) -> list[str]:
        c = self.coefficients()
        return c.loc[(c["coef"] != 0) & ~c["forced"], "predictor"].tolist()

    def _check(self, new: pd.DataFrame, allow_extra: bool) -> pd.DataFrame:
        missing = [c for c in self.required_columns if c not in new.columns]
        extra = [c for c in new.columns if c not in self.required_columns]
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(map(str, missing))}")
        if extra and not allow_extra:
            problems.append(f"unexpected extra columns: {', '.join(map(str, extra))} "
                            "(drop them, or pass allow_extra=True)")
        if problems:
            raise ValueError("the data do not match the model's columns; " + "; ".join(problems)
                             + f". The model needs exactly: {', '.join(self.required_columns)}")
        bad = [c for c in self.required_columns if not pd.api.types.is_numeric_dtype(new[c])]
        if bad:
            raise ValueError(f"non-numeric columns: {', '.join(bad)}; the model needs numbers")
        return new[self.required_columns]

    def predict(self, new: pd.DataFrame, *, allow_extra: bool = False) -> pd.Series:
        """Binary: P(event) per row; survival: linear predictor (log relative hazard). Missing values are
        imputed with the training medians."""
        X = self._check(new, allow_extra)
        if self.kind == "binary":
            values = self.pipeline.predict_proba(X)[:, 1]
            name = f"p_{self.spec.outcome.columns[0]}"
        else:
            values = self.pipeline.predict(X)
            name = "linear_predictor"
        return pd.Series(values, index=new.index, name=name)

    def predict_risk(self, new: pd.DataFrame, horizon_days: float, *, allow_extra: bool = False) -> pd.Series:
        """Survival only: predicted probability of an event by ``horizon_days``."""
        if self.kind != "survival":
            raise ValueError("predict_risk is for survival models; use predict for binary outcomes")
        X = self.pipeline.named_steps["prep"].transform(self._check(new, allow_extra))
        risk = self.pipeline.named_steps["model"].predict_risk(X, horizon_days)
        return pd.Series(risk, index=new.index, name=f"risk_{horizon_days:g}d")

    def save(self, path: str | Path) -> None:
        """Write the model as a plain JSON signature file (:mod:`analysis.signatures.export`; no pickle)."""
        from .export import save

        save(self, path)


def fit_final(df: pd.DataFrame, spec: ModelSpec) -> FinalModel:
    """Tune the penalty by CV on all patients, then fit preprocessing + model on all of them."""
    prep = prepare(df, spec)
    pf = penalty_factors(spec, prep.kind)
    pf_cols = pf[1:] if prep.kind == "binary" else pf
    l2 = fixed_ridge(spec, prep.kind)
    l2_cols = None if l2 is None else (l2[1:] if prep.kind == "binary" else l2)
    everyone = np.arange(prep.n)
    if spec.penalty == "none":
        lam, curve = 0.0, []
    else:
        designs = []
        for s in spec.repeat_seeds:
            d = make_design(prep.strata, spec.inner_folds, None, s)
            designs.append(Design(seed=s, outer=[(everyone, np.array([], dtype=int))],
                                  inner=[[(tr, te) for tr, te in d.outer]]))
        runs = run_jobs(prep, spec, [(prep.X, d) for d in designs])
        curve_arr = np.mean([r.cv_loss[0] for r in runs], axis=0)
        # every design's outer problem is the full data, so all share one grid
        lam = float(runs[0].grid[0, int(curve_arr.argmin())])
        curve = curve_arr.tolist()
    prep_step = MarkerPreprocessor(columns=spec.predictors, transforms=spec.transforms)
    if prep.kind == "binary":
        est = PenalisedLogistic(lam=lam, alpha=spec.alpha, penalty_factor=pf_cols, l2_fixed=l2_cols,
                                tol=spec.tol, max_iter=spec.max_iter)
        y = prep.y
    else:
        est = PenalisedCox(lam=lam, alpha=spec.alpha, penalty_factor=pf_cols, l2_fixed=l2_cols, tol=spec.tol,
                           max_iter=spec.max_iter)
        y = np.c_[prep.time, prep.y]
    Xdf = pd.DataFrame(prep.X, columns=spec.predictors, index=prep.index)
    pipe = Pipeline([("prep", prep_step), ("model", est)]).fit(Xdf, y)
    return FinalModel(spec=spec, pipeline=pipe, lam=lam, required_columns=spec.predictors,
                      dataset_sha256=dataset_sha256(df, spec.columns), versions=package_versions(),
                      created_utc=utc_now(), cv_loss=curve)
