"""Fine-Gray proportional subdistribution hazards regression (R ``cmprsk::crr``).

Participants who failed from a competing cause stay in the risk set of the cause of interest with weight
G(t-)/G(t_i-), G the Kaplan-Meier of censoring (Fine & Gray 1999); tied failures share one denominator
(Breslow). The coefficients maximise the weighted partial likelihood; their variance is the robust sandwich
H^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') H^-1 of cmprsk, where eta_i is the score residual and psi_i the
correction for estimating G.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis._inputs import check_time, numeric_column, require_columns
from analysis.survival.cox import _design

__all__ = ["FineGray", "fine_gray"]


@dataclass(frozen=True)
class FineGray:
    """A Fine-Gray fit: ``table`` indexed by covariate with coef, se, shr, shr_low, shr_high, z, p."""

    table: pd.DataFrame
    n: int
    events: int
    competing: int
    loglik: float
    loglik_null: float
    converged: bool
    reference: dict[str, object]
    cov: pd.DataFrame
    cause: object
    conf_level: float = 0.95


def _censoring_km_before(time: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """G(t-) at each row's own time: Kaplan-Meier of censoring, left-continuous."""
    uniq, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=censored.astype(float), minlength=len(uniq))
    n = np.bincount(inv, minlength=len(uniq))[::-1].cumsum()[::-1]
    g = np.cumprod(1 - d / n)
    return np.concatenate([[1.0], g[:-1]])[inv]


class _Model:
    """The weighted risk sets at the distinct failure times of the cause (beta-independent parts)."""

    def __init__(self, time: np.ndarray, kind: np.ndarray, x: np.ndarray) -> None:
        self.time, self.kind, self.x = time, kind, x
        g_before = _censoring_km_before(time, kind == 0)
        self.fail_times, self.d = np.unique(time[kind == 1], return_counts=True)
        # G(s-) at each failure time s: the left limit at a failing row's own time
        g_at = pd.Series(g_before[kind == 1], index=time[kind == 1]).groupby(level=0).first()
        self.g_fail = g_at.reindex(self.fail_times).to_numpy()
        later = time[None, :] >= self.fail_times[:, None]
        competing = (kind == 2)[None, :] & ~later
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(competing, self.g_fail[:, None] / g_before[None, :], 0.0)
        self.w = np.where(later, 1.0, ratio)  # failure times x rows
        self.sum_fail_x = x[kind == 1].sum(0)

    def stats(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        r = np.exp(self.x @ beta)
        wr = self.w * r[None, :]
        s0 = wr.sum(1)
        s1 = wr @ self.x
        xbar = s1 / s0[:, None]
        s2 = np.einsum("tn,ni,nj->tij", wr, self.x, self.x)
        loglik = float(np.sum((self.x @ beta)[self.kind == 1]) - np.sum(self.d * np.log(s0)))
        score = self.sum_fail_x - (self.d[:, None] * xbar).sum(0)
        info = np.einsum("t,tij->ij", self.d / s0, s2) - np.einsum("t,ti,tj->ij", self.d, xbar, xbar)
        return loglik, score, info, {"r": r, "s0": s0, "xbar": xbar}


def fine_gray(
    df: pd.DataFrame,
    time: str,
    event: str,
    cause: object = 1,
    covariates: Sequence[str] = (),
    cencode: object = 0,
    conf_level: float = 0.95,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> FineGray:
    """Fit the subdistribution hazards of ``cause`` on ``covariates`` (complete rows; numeric per unit,
    text/categorical as indicators against the first level, as ``survival.cox``)."""
    covariates = list(covariates)
    if not covariates:
        raise ValueError("fine_gray needs at least one covariate")
    require_columns(df, [time, event, *covariates])
    frame = df[[time, event, *covariates]].dropna()
    t = numeric_column(frame, time)
    check_time(t, time)
    status = frame[event]
    kind = np.where(status == cause, 1, np.where(status == cencode, 0, 2))
    if not (kind == 1).any():
        raise ValueError(f"event column {event!r} has no rows with cause {cause!r} among the complete rows")
    x, reference, _ = _design(frame, covariates)
    xm = x.to_numpy(float)
    model = _Model(t.to_numpy(float), kind, xm)
    beta = np.zeros(xm.shape[1])
    ll0, score, info, _ = model.stats(beta)
    ll, converged = ll0, False
    for _ in range(max_iter):
        step = np.linalg.solve(info, score)
        if np.max(np.abs(step)) < tol:
            beta, converged = beta + step, True
            break
        for _ in range(40):
            ll_new, score_new, info_new, _ = model.stats(beta + step)
            if ll_new >= ll - 1e-10 * max(1.0, abs(ll)):  # a fall within rounding is no fall
                break
            step = step / 2
        beta, ll, score, info = beta + step, ll_new, score_new, info_new
    ll, score, info, parts = model.stats(beta)
    cov = _sandwich(model, beta, info, parts)
    z_crit = stats.norm.ppf(0.5 + conf_level / 2)
    se = np.sqrt(np.diag(cov))
    table = pd.DataFrame({"coef": beta, "se": se, "shr": np.exp(beta), "shr_low": np.exp(beta - z_crit * se),
                          "shr_high": np.exp(beta + z_crit * se), "z": beta / se,
                          "p": 2 * stats.norm.sf(np.abs(beta / se))},
                         index=pd.Index(x.columns, name="covariate"))
    return FineGray(table=table, n=len(frame), events=int((kind == 1).sum()),
                    competing=int((kind == 2).sum()),
                    loglik=ll, loglik_null=ll0, converged=converged, reference=reference,
                    cov=pd.DataFrame(cov, index=x.columns, columns=x.columns), cause=cause,
                    conf_level=conf_level)


def _sandwich(model: _Model, beta: np.ndarray, info: np.ndarray, parts: dict[str, np.ndarray]) -> np.ndarray:
    """Robust variance of cmprsk: H^-1 (sum (eta + psi)(eta + psi)') H^-1."""
    t, kind, x = model.time, model.kind, model.x
    r, s0, xbar = parts["r"], parts["s0"], parts["xbar"]
    fail_index = np.searchsorted(model.fail_times, t)  # each row's failure-time index (if it failed)
    # eta: dN part minus the d Lambda part over the failure times at which the row is in the risk set
    dlam = model.d / s0  # per failure time: number failing / S0
    weight = model.w * r[None, :] * dlam[:, None]  # failure times x rows
    diff = x[None, :, :] - xbar[:, None, :]  # failure times x rows x p
    eta = -np.einsum("tn,tnp->np", weight, diff)
    failed = kind == 1
    eta[failed] += x[failed] - xbar[fail_index[failed]]
    psi = _psi(model, beta, r, s0, xbar)
    u = eta + psi
    h_inv = np.linalg.inv(info)
    return h_inv @ (u.T @ u) @ h_inv


def _psi(model: _Model, beta: np.ndarray, r: np.ndarray, s0: np.ndarray, xbar: np.ndarray) -> np.ndarray:
    """Correction for estimating the censoring distribution, per row (Fine & Gray 1999, psi_i)."""
    t, kind, x = model.time, model.kind, model.x
    _n, p = x.shape
    times = np.unique(t)
    at_risk = np.bincount(np.searchsorted(times, t), minlength=len(times))[::-1].cumsum()[::-1].astype(float)
    competing = np.flatnonzero(kind == 2)
    # contribution of competing row j at failure time s: d_s / S0(s) w_sj r_j (x_j - xbar(s))
    contrib = (model.d / s0)[:, None, None] * (model.w[:, competing] * r[competing])[:, :, None] * (
        x[competing][None, :, :] - xbar[:, None, :])
    order = np.argsort(t[competing], kind="stable")
    cum = np.concatenate([np.zeros((len(model.fail_times), 1, p)), np.cumsum(contrib[:, order], axis=1)],
                         axis=1)
    ct = t[competing][order]
    cens_times = np.unique(t[kind == 0])
    q = np.zeros((len(cens_times), p))
    for i, u in enumerate(cens_times):
        k = np.searchsorted(ct, u, side="left")  # competing rows with t < u
        q[i] = cum[model.fail_times >= u, k].sum(0)
    y = at_risk[np.searchsorted(times, cens_times)]
    d_cens = np.array([np.sum((t == u) & (kind == 0)) for u in cens_times], dtype=float)
    step = q * (d_cens / y**2)[:, None]
    cum_step = np.cumsum(step, axis=0)
    upto = np.searchsorted(cens_times, t, side="right")  # censoring times <= t_i
    psi = -np.where(upto[:, None] > 0, cum_step[np.maximum(upto - 1, 0)], 0.0)
    own = kind == 0
    idx = np.searchsorted(cens_times, t[own])
    psi[own] += q[idx] / y[idx][:, None]
    return psi
