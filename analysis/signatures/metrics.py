"""Discrimination metrics: AUC with DeLong variance, Harrell's C, cumulative/dynamic AUC(t) with IPCW."""

from __future__ import annotations

import numpy as np
from lifelines.utils import concordance_index
from scipy.stats import rankdata


def delong_auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """AUC and its DeLong (1988) variance, via the placement values of Sun & Xu (2014)."""
    y = np.asarray(y, dtype=bool)
    pos, neg = score[y], score[~y]
    m, k = len(pos), len(neg)
    r_all = rankdata(np.r_[pos, neg])
    r_pos, r_neg = rankdata(pos), rankdata(neg)
    v10 = (r_all[:m] - r_pos) / k  # placement of each positive among negatives
    v01 = 1.0 - (r_all[m:] - r_neg) / m
    auc = float(v10.mean())
    var = float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / k) if m > 1 and k > 1 else float("nan")
    return auc, var


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C for a risk score (higher = worse); lifelines wants predicted survival, so pass −risk."""
    return float(concordance_index(time, -risk, event))


def bootstrap_c_se(time: np.ndarray, event: np.ndarray, risk: np.ndarray, n_boot: int, seed: int) -> float:
    """Standard error of Harrell's C from a patient-level bootstrap."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        i = rng.integers(0, len(time), len(time))
        if event[i].sum() == 0:
            continue
        vals.append(harrell_c(time[i], event[i], risk[i]))
    return float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")


def km_censoring(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate of the censoring survival G(t): (unique times, G just after each)."""
    cens = 1 - event
    ut = np.unique(time)
    at_risk = np.array([(time >= t).sum() for t in ut])
    d = np.array([cens[time == t].sum() for t in ut])
    return ut, np.cumprod(1 - d / at_risk)


def cumulative_dynamic_auc(time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float) -> float:
    """AUC(t) with cases = event by ``horizon``, controls = still at risk after it, IPCW (Uno et al. 2007).

    Cases are weighted by 1/G(T_i−) with G the censoring Kaplan–Meier; the constant control weight 1/G(t)
    cancels. Ties in risk count one half. Returns NaN if there are no cases or no controls.
    """
    ut, G = km_censoring(time, event)

    def G_minus(t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(ut, t, side="left") - 1
        return np.where(idx >= 0, G[np.clip(idx, 0, None)], 1.0)

    case = (time <= horizon) & (event == 1)
    ctrl = time > horizon
    if not case.any() or not ctrl.any():
        return float("nan")
    wc = 1.0 / np.maximum(G_minus(time[case]), 1e-12)
    rc, rk = risk[case][:, None], risk[ctrl][None, :]
    conc = (rc > rk) + 0.5 * (rc == rk)
    return float((wc[:, None] * conc).sum() / (wc.sum() * ctrl.sum()))
