"""Clinical usefulness of a risk prediction: decision curves and the watch-and-wait table.

Net benefit (Vickers & Elkin 2006) at threshold probability pt, treating everyone with predicted risk >= pt:

    NB(pt) = TP/n - FP/n * pt / (1 - pt)

"Treat all" has NB = prevalence - (1 - prevalence) * pt / (1 - pt); "treat none" has NB = 0.

For watch-and-wait the "treatment" is surgery and the event is residual disease: patients whose predicted
probability of residual disease is below the threshold would be spared surgery.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm


def _arrays(y: object, prob: object) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    if y.shape != prob.shape or y.ndim != 1:
        raise ValueError("y and prob must be 1-d arrays of the same length")
    if np.isnan(y).any() or np.isnan(prob).any():
        raise ValueError("y and prob must not contain missing values")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must be 0/1 (1 = event)")
    if ((prob < 0) | (prob > 1)).any():
        raise ValueError("prob must be probabilities in [0, 1]")
    return y, prob


def _thresholds(thresholds: object) -> np.ndarray:
    t = np.asarray(thresholds, dtype=float)
    if ((t <= 0) | (t >= 1)).any():
        raise ValueError("threshold probabilities must lie strictly between 0 and 1")
    return t


def decision_curve(y: object, prob: object, thresholds: object = None) -> pd.DataFrame:
    """Net benefit of the model, treat-all and treat-none at each threshold (default 0.01 … 0.99 by 0.01)."""
    y, prob = _arrays(y, prob)
    t = _thresholds(np.round(np.arange(0.01, 1.0, 0.01), 2) if thresholds is None else thresholds)
    n = len(y)
    prev = y.mean()
    odds = t / (1 - t)
    treat = prob[None, :] >= t[:, None]
    tp = (treat & (y[None, :] == 1)).sum(axis=1)
    fp = (treat & (y[None, :] == 0)).sum(axis=1)
    return pd.DataFrame({
        "threshold": t,
        "net_benefit_model": tp / n - fp / n * odds,
        "net_benefit_all": prev - (1 - prev) * odds,
        "net_benefit_none": np.zeros(len(t)),
        "true_positives": tp,
        "false_positives": fp,
        "n": n,
    })


def wilson_interval(k: object, n: object, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes out of n (k may be fractional, e.g. averaged over repeats)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = norm.ppf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def watch_and_wait_table(
    y_residual: object, prob: object, thresholds: object, per: int = 100, confidence: float = 0.95
) -> pd.DataFrame:
    """Surgeries avoided and residual disease missed per ``per`` cCR patients at each threshold.

    ``y_residual``: 1 = residual disease (non-pCR), 0 = pathological complete response. ``prob``: predicted
    probability of residual disease. A patient with prob < threshold is spared surgery (watch-and-wait).

    Columns: counts; ``surgeries_avoided_per`` and ``residual_missed_per`` with Wilson score intervals (both
    are binomial proportions of all n patients, scaled to ``per``); ``missed_among_residual`` = share of
    residual disease that would be left in place (1 − sensitivity), Wilson interval; model net benefit at the
    threshold. The Wilson interval treats the predictions as fixed, so it does not carry model-fitting
    uncertainty.
    """
    y, prob = _arrays(y_residual, prob)
    t = _thresholds(thresholds)
    n = len(y)
    n_res = int(y.sum())
    spared = prob[None, :] < t[:, None]
    avoided = spared.sum(axis=1)
    missed = (spared & (y[None, :] == 1)).sum(axis=1)
    a_lo, a_hi = wilson_interval(avoided, n, confidence)
    m_lo, m_hi = wilson_interval(missed, n, confidence)
    if n_res:
        f_lo, f_hi = wilson_interval(missed, n_res, confidence)
        frac = missed / n_res
    else:
        f_lo = f_hi = frac = np.full(len(t), np.nan)
    nb = decision_curve(y, prob, t)["net_benefit_model"].to_numpy()
    return pd.DataFrame({
        "threshold": t,
        "n": n,
        "n_residual": n_res,
        "surgeries_avoided": avoided,
        "surgeries_avoided_per": per * avoided / n,
        "surgeries_avoided_ci_low": per * a_lo,
        "surgeries_avoided_ci_high": per * a_hi,
        "residual_missed": missed,
        "residual_missed_per": per * missed / n,
        "residual_missed_ci_low": per * m_lo,
        "residual_missed_ci_high": per * m_hi,
        "missed_among_residual": frac,
        "missed_among_residual_ci_low": f_lo,
        "missed_among_residual_ci_high": f_hi,
        "net_benefit_model": nb,
    })
