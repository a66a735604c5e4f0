"""Binary endpoints (pCR, cCR, MPR): exact rates and marker association (logistic OR, Mann-Whitney, AUC).

``associate`` reports, on the complete rows of outcome and marker: n and events; the odds ratio per unit of
the marker and per standard deviation (logistic regression, Wald CI); the two-sided Mann-Whitney p; the AUC
(probability that a responder's marker exceeds a non-responder's, ties 1/2) with DeLong's CI; and the Youden
cut (max sensitivity + specificity - 1). A strong marker can separate the classes completely; the logistic
MLE then does not exist and ``converged`` is False (report the AUC and an exact test instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis._inputs import binary_frame

__all__ = [
    "Association", "Rate", "associate", "delong", "firth_logistic", "logistic_many", "mann_whitney", "rate",
    "youden",
]


@dataclass(frozen=True)
class Rate:
    """A proportion with its exact (Clopper-Pearson) confidence interval."""

    successes: int
    n: int
    rate: float
    lower: float
    upper: float


def rate(successes: int, n: int, conf_level: float = 0.95) -> Rate:
    """Return successes/n with the exact Clopper-Pearson CI (e.g. the pCR rate of an arm)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got successes={successes}, n={n}")
    alpha = 1 - conf_level
    lower = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, n - successes + 1))
    upper = 1.0 if successes == n else float(stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return Rate(successes, n, successes / n, lower, upper)


def logistic_many(y: np.ndarray, x: np.ndarray, tol: float = 1e-10,
                  max_iter: int = 100) -> dict[str, np.ndarray]:
    """Fit y ~ 1 + x by Newton-Raphson for every column of ``x`` at once (NaN = row not in that model).

    Returns coef and se of the slope, n, events, converged, ``separated`` (the marker's values in the two
    outcome groups do not overlap, or only touch: complete or quasi-complete separation, no finite MLE; coef
    +-inf) and ``estimable`` (False without both outcomes or without variation in the marker: coef NaN).
    """
    y = np.asarray(y, float)[:, None]
    x = np.asarray(x, float)
    mask = ~np.isnan(x)
    n = mask.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.nansum(x, 0) / np.maximum(n, 1)
    xc = np.where(mask, x - centre, 0.0)
    events = (y * mask).sum(0)
    lo = np.where(mask, x, np.inf)
    hi = np.where(mask, x, -np.inf)
    pos, neg = (y == 1) & mask, (y == 0) & mask
    estimable = (events > 0) & (events < n) & (hi.max(0) > lo.min(0))
    with np.errstate(invalid="ignore"):
        max1, min1 = np.where(pos, x, -np.inf).max(0), np.where(pos, x, np.inf).min(0)
        max0, min0 = np.where(neg, x, -np.inf).max(0), np.where(neg, x, np.inf).min(0)
    separated = estimable & ((max0 <= min1) | (max1 <= min0))
    m = x.shape[1]
    a = np.log(np.maximum(events, 0.5) / np.maximum(n - events, 0.5))
    b = np.zeros(m)
    converged = ~estimable | separated  # nothing to iterate for these
    for _ in range(max_iter):
        p = special.expit(a + b * xc)
        w = np.where(mask, p * (1 - p), 0.0)
        r = np.where(mask, y - p, 0.0)
        g0, g1 = r.sum(0), (r * xc).sum(0)
        h00, h01, h11 = w.sum(0), (w * xc).sum(0), (w * xc * xc).sum(0)
        det = h00 * h11 - h01**2
        with np.errstate(divide="ignore", invalid="ignore"):
            da = np.where(det > 0, (h11 * g0 - h01 * g1) / det, 0.0)
            db = np.where(det > 0, (h00 * g1 - h01 * g0) / det, 0.0)
        da, db = np.where(converged, 0.0, da), np.where(converged, 0.0, db)
        a, b = a + da, b + db
        converged |= (np.abs(da) < tol) & (np.abs(db) < tol)
        if converged.all():
            break
    p = special.expit(a + b * xc)
    w = np.where(mask, p * (1 - p), 0.0)
    h00, h01, h11 = w.sum(0), (w * xc).sum(0), (w * xc * xc).sum(0)
    det = h00 * h11 - h01**2
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(det > 0, np.sqrt(h00 / det), np.nan)
    direction = np.where(max0 <= min1, 1.0, -1.0)
    coef = np.where(separated, direction * np.inf, np.where(estimable, b, np.nan))
    return {"coef": coef, "se": np.where(estimable & ~separated, se, np.nan), "n": n, "events": events,
            "converged": converged & estimable & ~separated, "separated": separated, "estimable": estimable}


def firth_logistic(y: np.ndarray, x: np.ndarray, tol: float = 1e-10,
                   max_iter: int = 200) -> dict[str, np.ndarray]:
    """Firth-penalised logistic regression of y on [1, x] (finite under separation; Firth 1993).

    Maximises l(b) + log|X'WX|/2 by Newton steps on the modified score X'(y - p + h (1/2 - p)), h the
    leverages, with step halving. Returns coef and se (from the penalised information) of every column of
    ``x`` (intercept first), and converged.
    """
    y = np.asarray(y, float)
    xd = np.column_stack([np.ones(len(y)), np.asarray(x, float)])
    beta = np.zeros(xd.shape[1])

    def penalised(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = xd @ b
        p = special.expit(eta)
        w = p * (1 - p)
        info = xd.T @ (w[:, None] * xd)
        sign, logdet = np.linalg.slogdet(info)
        ll = float(np.sum(y * eta - np.logaddexp(0, eta))) + (0.5 * logdet if sign > 0 else -np.inf)
        h = np.einsum("ij,jk,ik->i", xd, np.linalg.pinv(info), xd) * w
        return ll, xd.T @ (y - p + h * (0.5 - p)), info

    ll, score, info = penalised(beta)
    converged = False
    for _ in range(max_iter):
        step = np.linalg.lstsq(info, score, rcond=None)[0]
        if np.max(np.abs(step)) < tol:
            converged = True
            break
        for _ in range(40):
            ll_new, score_new, info_new = penalised(beta + step)
            if ll_new >= ll - 1e-10 * max(1.0, abs(ll)):  # a fall within rounding is no fall
                break
            step = step / 2
        beta, ll, score, info = beta + step, ll_new, score_new, info_new
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    return {"coef": beta, "se": se, "converged": np.array(converged), "penalised_loglik": np.array(ll)}


def delong(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """AUC and its DeLong standard error (structural components via midranks)."""
    y = np.asarray(y, float)
    s = np.asarray(score, float)
    pos, neg = s[y == 1], s[y == 0]
    n1, n0 = len(pos), len(neg)
    r_all = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (r_all[:n1] - stats.rankdata(pos)) / n0
    v01 = 1 - (r_all[n1:] - stats.rankdata(neg)) / n1
    auc = float(v10.mean())
    se = float(np.sqrt(np.var(v10, ddof=1) / n1 + np.var(v01, ddof=1) / n0))
    return auc, se


def youden(y: np.ndarray, score: np.ndarray, higher: bool = True) -> tuple[float, float, float]:
    """Cut maximising sensitivity + specificity - 1; returns (cut, sensitivity, specificity).

    With ``higher`` a value >= cut is called positive, otherwise a value <= cut.
    """
    y = np.asarray(y, float)
    s = np.asarray(score, float) if higher else -np.asarray(score, float)
    cuts = np.unique(s)
    pos = np.sort(s[y == 1])
    neg = np.sort(s[y == 0])
    sens = 1 - np.searchsorted(pos, cuts, side="left") / len(pos)
    spec = np.searchsorted(neg, cuts, side="left") / len(neg)
    i = int(np.argmax(sens + spec - 1))
    cut = float(cuts[i]) if higher else float(-cuts[i])
    return cut, float(sens[i]), float(spec[i])


@dataclass(frozen=True)
class Association:
    """Marker versus a 0/1 outcome (see the module docstring for the definitions)."""

    n: int
    events: int
    or_unit: float
    or_unit_low: float
    or_unit_high: float
    or_sd: float
    or_sd_low: float
    or_sd_high: float
    sd: float
    p_wald: float
    p_mann_whitney: float
    auc: float
    auc_low: float
    auc_high: float
    auc_se: float
    youden_cut: float
    sensitivity: float
    specificity: float
    direction: str
    converged: bool
    conf_level: float = 0.95
    reason: str | None = None
    firth: bool = False
    mann_whitney_method: str = "exact"

    def as_series(self) -> pd.Series:
        """Return the fields as a pandas Series (one row of a report table)."""
        return pd.Series(self.__dict__)

    def predictive_auc(self) -> tuple[float, float, float]:
        """AUC and CI in the direction that predicts the outcome (``direction``), as the ROC figure draws
        it."""
        if self.direction == "higher":
            return self.auc, self.auc_low, self.auc_high
        return 1 - self.auc, 1 - self.auc_high, 1 - self.auc_low


def mann_whitney(x1: np.ndarray, x0: np.ndarray) -> tuple[float, str]:
    """Two-sided Mann-Whitney p as R ``wilcox.test``: exact below 50 per group without ties, otherwise the
    normal approximation with tie and continuity corrections. Returns (p, method)."""
    ties = len(np.unique(np.concatenate([x1, x0]))) < len(x1) + len(x0)
    method: Literal["exact", "asymptotic"] = (
        "exact" if len(x1) < 50 and len(x0) < 50 and not ties else "asymptotic")
    p = stats.mannwhitneyu(x1, x0, alternative="two-sided", method=method, use_continuity=True).pvalue
    return float(p), method


def associate(df: pd.DataFrame, outcome: str, marker: str, conf_level: float = 0.95,
              firth: bool = False) -> Association:
    """Associate a numeric ``marker`` with a 0/1 ``outcome`` on their complete rows.

    ``direction`` is "higher" when responders tend to have higher values (AUC >= 0.5); the Youden cut is
    then read as "marker >= cut predicts the outcome", otherwise "marker <= cut". Under complete or
    quasi-complete separation the odds ratio is infinite: ``converged`` is False with a ``reason``, the OR is
    0 or inf and its CI and Wald p NaN, unless ``firth`` asks for Firth's penalised estimate.
    """
    frame = binary_frame(df, outcome, [marker])
    y = frame[outcome].to_numpy()
    x = frame[marker].to_numpy()
    if np.unique(x).size < 2:
        raise ValueError(f"marker column {marker!r} is constant among the complete rows")
    z = stats.norm.ppf(0.5 + conf_level / 2)
    fit = logistic_many(y, x[:, None])
    b, se = float(fit["coef"][0]), float(fit["se"][0])
    converged = bool(fit["converged"][0])
    reason = None
    if fit["separated"][0]:
        reason = ("separation: the marker's values in the two outcome groups do not overlap (no finite odds "
                  "ratio)")
    elif not converged:
        reason = "no convergence of the logistic fit"
    if firth:
        pen = firth_logistic(y, x)
        b, se = float(pen["coef"][1]), float(pen["se"][1])
    sd = float(np.std(x, ddof=1))
    auc, auc_se = delong(y, x)
    higher = auc >= 0.5
    cut, sens, spec = youden(y, x, higher=higher)
    mw, mw_method = mann_whitney(x[y == 1], x[y == 0])
    with np.errstate(invalid="ignore", over="ignore"):
        return Association(
            n=len(frame),
            events=int(y.sum()),
            or_unit=float(np.exp(b)),
            or_unit_low=float(np.exp(b - z * se)),
            or_unit_high=float(np.exp(b + z * se)),
            or_sd=float(np.exp(b * sd)),
            or_sd_low=float(np.exp((b - z * se) * sd)),
            or_sd_high=float(np.exp((b + z * se) * sd)),
            sd=sd,
            p_wald=float(2 * stats.norm.sf(abs(b / se))),
            p_mann_whitney=mw,
            auc=auc,
            auc_low=max(0.0, auc - z * auc_se),
            auc_high=min(1.0, auc + z * auc_se),
            auc_se=auc_se,
            youden_cut=cut,
            sensitivity=sens,
            specificity=spec,
            direction="higher" if higher else "lower",
            converged=converged,
            conf_level=conf_level,
            reason=reason,
            firth=firth,
            mann_whitney_method=mw_method,
        )
