"""Calibration of predicted probabilities: logistic recalibration slope/intercept and grouped points.

- Calibration slope: b in logit P(y=1) = a + b · logit(p̂) (1 = ideal, < 1 = predictions too extreme).
- Calibration intercept (calibration-in-the-large): a in logit P(y=1) = a + 1 · logit(p̂) (offset; 0 = ideal).
Both by Newton–Raphson on the Bernoulli likelihood (Van Calster et al., J Clin Epidemiol 2016).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .decision import wilson_interval


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-8, 1 - 1e-8)
    return np.log(p / (1 - p))


def _newton_logistic(Z: np.ndarray, y: np.ndarray, offset: np.ndarray, max_iter: int = 100) -> np.ndarray:
    beta = np.zeros(Z.shape[1])
    for _ in range(max_iter):
        eta = Z @ beta + offset
        mu = 1 / (1 + np.exp(-eta))
        grad = Z.T @ (y - mu)
        H = (Z * (mu * (1 - mu))[:, None]).T @ Z
        try:
            delta = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            return np.full(Z.shape[1], np.nan)
        beta = beta + delta
        if np.abs(delta).max() < 1e-10:
            return beta
    return np.full(Z.shape[1], np.nan)  # no finite maximum (e.g. perfect separation)


def calibration_slope_intercept(y: object, prob: object) -> dict[str, float]:
    """Return ``{"slope", "intercept", "slope_fit_intercept"}``; NaN when the recalibration model diverges."""
    y = np.asarray(y, dtype=float)
    lp = _logit(np.asarray(prob, dtype=float))
    n = len(y)
    a_b = _newton_logistic(np.c_[np.ones(n), lp], y, np.zeros(n))
    a = _newton_logistic(np.ones((n, 1)), y, lp)
    return {"slope": float(a_b[1]), "slope_fit_intercept": float(a_b[0]), "intercept": float(a[0])}


def calibration_points(y: object, prob: object, n_groups: int | None = None) -> pd.DataFrame:
    """Mean predicted vs observed event rate in quantile groups of the prediction (Wilson CI for observed).

    Default number of groups: 10, fewer for small samples (about 10 patients per group, at least 3 groups).
    """
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    if n_groups is None:
        n_groups = int(min(10, max(3, len(y) // 10)))
    order = np.argsort(prob, kind="mergesort")
    groups = np.array_split(order, n_groups)
    rows = []
    for g, idx in enumerate(groups):
        k, m = y[idx].sum(), len(idx)
        lo, hi = wilson_interval(k, m)
        rows.append({"group": g + 1, "n": m, "predicted": prob[idx].mean(), "observed": k / m,
                     "observed_ci_low": float(lo), "observed_ci_high": float(hi)})
    return pd.DataFrame(rows)
