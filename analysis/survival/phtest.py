"""The proportional-hazards test of R ``survival::cox.zph`` (survival >= 3: the full information matrix).

For a fitted Cox model with coefficients b, add the time-varying terms x * g(t) with coefficients 0 and
compute the score test for them at (b, 0): U = sum over events of g(t) (x_i - xbar(t)) and the full
information matrix of (x, x g(t)) with Efron's handling of ties. ``g`` is the centred transform of time
("km": 1 - the left-continuous pooled Kaplan-Meier, R's default; "rank", "log", "identity"). One test per
covariate (a categorical covariate is one term with as many degrees of freedom as levels - 1) and a global
test with all terms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis import _coxcore
from analysis.survival.cox import CoxFit

__all__ = ["TRANSFORMS", "ph_test"]

TRANSFORMS = ("km", "rank", "log", "identity")


def _time_transform(time: np.ndarray, event: np.ndarray, transform: str) -> np.ndarray:
    if transform == "identity":
        return time.astype(float)
    if transform == "rank":
        return stats.rankdata(time)
    if transform == "log":
        return np.log(time)
    uniq, inv = np.unique(time, return_inverse=True)  # pooled KM, left-continuous: S(t-)
    d = np.bincount(inv, weights=event, minlength=len(uniq))
    n = np.bincount(inv, minlength=len(uniq))[::-1].cumsum()[::-1]
    surv = np.cumprod(1 - d / n)
    before = np.concatenate([[1.0], surv[:-1]])
    return 1.0 - before[inv]


def ph_test(fit: CoxFit, transform: str = "km") -> pd.DataFrame:
    """Return the PH test table: index covariates + "GLOBAL", columns chisq, df, p (as R ``cox.zph``)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    if fit.design is None:
        raise ValueError("this Cox fit does not carry its data; refit it with survival.cox")
    if fit.firth or not np.isfinite(fit.table["coef"]).all():
        raise ValueError("the PH test needs finite maximum-likelihood coefficients (not an infinite or Firth "
                         "fit)")
    d = fit.design
    beta = fit.table["coef"].to_numpy(float)
    x = d.x - d.x.mean(0)
    p = x.shape[1]
    g_all = _time_transform(d.time, d.event, transform)
    g_all = g_all - g_all[d.event == 1].mean()
    u = np.zeros(p)
    imat = np.zeros((2 * p, 2 * p))
    labels = np.zeros(len(d.time)) if d.strata is None else d.strata
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        s = _coxcore.sort_times(d.time[idx], d.event[idx])
        xs, gs = x[idx][s.order], g_all[idx][s.order]
        if not s.event.any():
            continue
        k = _coxcore.efron_terms(s, xs, beta)
        g = gs[s.start][k["g"]]  # g(t) of each event term
        u += (s.event * gs) @ xs - g @ k["m1"]
        var = k["m2"] - k["m1"][:, :, None] * k["m1"][:, None, :]
        blocks = [np.einsum("k,kij->ij", w, var) for w in (np.ones_like(g), g, g * g)]
        imat += np.block([[blocks[0], blocks[1]], [blocks[1], blocks[2]]])
    names = list(fit.table.index)
    rows = {}
    for term, columns in (fit.terms or {c: [c] for c in names}).items():
        jj = [names.index(c) for c in columns]
        rows[term] = _score(imat, u, p, jj)
    rows["GLOBAL"] = _score(imat, u, p, list(range(p)))
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["chisq", "df"])
    out["p"] = stats.chi2.sf(out["chisq"], out["df"])
    out.index.name = "covariate"
    out.attrs["transform"] = transform
    return out


def _score(imat: np.ndarray, u: np.ndarray, p: int, jj: list[int]) -> tuple[float, int]:
    kk = list(range(p)) + [p + j for j in jj]
    vec = np.concatenate([np.zeros(p), u[jj]])
    return float(vec @ np.linalg.solve(imat[np.ix_(kk, kk)], vec)), len(jj)
