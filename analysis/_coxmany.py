"""Vectorised cores (private): univariate Efron Cox fits and log-rank sums for many markers at once.

The arrays hold one column per marker and treat a missing marker value as "not in this marker's model"
(weight 0), which is exactly the per-model complete-case analysis of the general functions. Every column's
numbers depend only on that column: fitting markers in blocks gives the same numbers as fitting them together.
"""

from __future__ import annotations

import numpy as np

from analysis._coxcore import EPS, FLAT, ROUNDING, TOLER_INF, Sorted, sort_times
from analysis._coxcore import rcumsum as _rcumsum

# ------------------------------------------------------------- univariate Efron Cox, one column per marker


class _Many:
    """Beta-independent pieces of M univariate Efron models (x, mask: n x M on time-sorted rows)."""

    def __init__(self, s: Sorted, x: np.ndarray, mask: np.ndarray) -> None:
        self.x, self.mask = x, mask
        em = s.event[:, None] * mask
        d_all = np.add.reduceat(s.event, s.start)
        self.groups = np.flatnonzero(d_all > 0)  # distinct times with at least one event
        self.risk_rows = s.start[self.groups]
        self.start = s.start
        self.em = em
        self.d = np.add.reduceat(em, s.start)[self.groups]
        self.dmax = int(d_all.max()) if len(d_all) else 0
        safe_d = np.where(self.d > 0, self.d, 1.0)
        self.all_events = bool((self.d > 0).all())
        # Efron term l (l = 0..d-1) only exists at times with more than l tied events: keep those rows
        self.full = bool(mask.all())
        # tied times: their rows, and the start of each tied time within those rows
        tied = np.flatnonzero(d_all[self.groups] > 1)
        bounds = np.append(s.start, len(s.event))
        g = self.groups[tied]
        self.tied_rows = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in g] + [[]]).astype(int)
        self.tied_start = np.concatenate([[0], np.cumsum(bounds[g + 1] - bounds[g])[:-1]]).astype(int)
        self.em_tied = em[self.tied_rows]
        self.ties = []
        for l in range(self.dmax):
            rows = np.flatnonzero((self.d > l).any(1))  # positions among event times
            in_tied = np.searchsorted(self.groups[tied], self.groups[rows])  # positions among tied times
            self.ties.append((rows, in_tied, self.d[rows] > l, l / safe_d[rows]))
        self.sum_ex = (em * x).sum(0)

    def stats(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log-likelihood, score and information of every model at its own ``beta``."""
        x = self.x
        w = np.exp(x * beta)
        if not self.full:
            w[~self.mask] = 0.0
        wx = w * x
        wxx = wx * x
        s0 = _rcumsum(w)[self.risk_rows]
        s1 = _rcumsum(wx)[self.risk_rows]
        s2 = _rcumsum(wxx)[self.risk_rows]
        if self.dmax > 1:
            r, em = self.tied_rows, self.em_tied
            d0 = np.add.reduceat(w[r] * em, self.tied_start)
            d1 = np.add.reduceat(wx[r] * em, self.tied_start)
            d2 = np.add.reduceat(wxx[r] * em, self.tied_start)
        ll = self.sum_ex * beta
        score = self.sum_ex.copy()
        info = np.zeros_like(beta)
        for l, (rows, tr, act, f) in enumerate(self.ties):
            if l == 0:  # every time with an event: no Efron correction
                den, n1, n2 = s0, s1, s2
                if not self.all_events:
                    den = np.where(act, den, 1.0)
                    n1, n2 = np.where(act, n1, 0.0), np.where(act, n2, 0.0)
            else:
                den = np.where(act, s0[rows] - f * d0[tr], 1.0)
                n1 = np.where(act, s1[rows] - f * d1[tr], 0.0)
                n2 = np.where(act, s2[rows] - f * d2[tr], 0.0)
            m1 = n1 / den
            ll = ll - np.log(den).sum(0)
            score = score - m1.sum(0)
            info = info + (n2 / den - m1 * m1).sum(0)
        return ll, score, info


def _newton(model: _Many, m: int, skip: np.ndarray, tol: float, max_iter: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton steps with step halving for every column at once; returns beta, converged and infinite."""
    beta = np.zeros(m)
    ll, score, info = model.stats(beta)
    done = skip.copy()
    converged = np.zeros(m, bool)
    infinite = np.zeros(m, bool)
    for _ in range(max_iter):
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = np.where(info > 0, score / info, 0.0)
        # converged where the next Newton step is below tol: the current point is the estimate
        newly = ~done & (np.abs(newton) < tol) & (info > 0)
        beta = np.where(newly, beta + newton, beta)  # the last, tiny step costs no evaluation
        converged |= newly
        done |= newly
        if done.all():
            break
        step = np.where(done, 0.0, newton)
        new = beta + step
        ll_new, score_new, info_new = model.stats(new)
        for _ in range(40):  # step halving where the likelihood went down
            worse = ~(ll_new >= ll - ROUNDING * np.maximum(1.0, np.abs(ll))) & ~done
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
            new = beta + step
            ll_new, score_new, info_new = model.stats(new)
        flat = ~done & (np.abs(ll_new - ll) <= FLAT * np.maximum(1.0, np.abs(ll_new)))
        beta, ll, score, info = new, ll_new, score_new, info_new
        with np.errstate(divide="ignore", invalid="ignore"):
            nxt = np.where(info > 0, np.abs(score / info), np.inf)
        diverging = flat & (nxt > EPS) & (nxt > TOLER_INF * np.abs(beta))  # R coxph.fit's test
        infinite |= diverging
        done |= diverging
    return beta, converged, infinite


def fit_cox_many(
    time: np.ndarray, event: np.ndarray, x: np.ndarray, tol: float = 1e-9, max_iter: int = 100
) -> dict[str, np.ndarray]:
    """Fit one univariate Efron Cox model per column of ``x`` (NaN = row not in that model), all at once.

    A column without events or without variation among its rows has no estimate (coef and se NaN,
    ``estimable`` False). A column whose likelihood is monotone (R: "coefficient may be infinite") gets
    ``infinite`` True and coef +-inf; its likelihood-ratio statistic (``loglik - loglik0``) is still valid.
    """
    x = np.asarray(x, float)
    # A row missing from every model contributes to none of them; dropping it keeps the event-time
    # structure to times where at least one model has an event.
    keep = ~np.isnan(x).all(1)
    time, event, x = np.asarray(time)[keep], np.asarray(event)[keep], x[keep]
    m = x.shape[1]
    if not len(x):
        nan = np.full(m, np.nan)
        zero = np.zeros(m, bool)
        return {"coef": nan, "se": nan, "loglik": nan, "loglik0": nan, "n": np.zeros(m, int),
                "events": np.zeros(m), "converged": zero, "infinite": zero, "estimable": zero}
    s = sort_times(time, event)
    x = x[s.order]
    mask = ~np.isnan(x)
    n = mask.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(n > 0, np.nansum(x, 0) / np.maximum(n, 1), 0.0)
    x = np.where(mask, x - centre, 0.0)
    events = (s.event[:, None] * mask).sum(0)
    model = _Many(s, x, mask)
    ll0, _, info0 = model.stats(np.zeros(m))
    estimable = (events > 0) & (info0 > 0)
    beta, converged, infinite = _newton(model, m, ~estimable, tol, max_iter)
    # the information (and log-likelihood) at every column's final estimate, whatever else was in the block
    ll, _, info = model.stats(beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(info > 0, 1 / np.sqrt(info), np.nan)
    coef = np.where(infinite, np.where(beta > 0, np.inf, -np.inf), beta)
    return {
        "coef": np.where(estimable, coef, np.nan),
        "se": np.where(estimable & ~infinite, se, np.nan),
        "loglik": ll,
        "loglik0": ll0,
        "n": n,
        "events": events,
        "converged": converged & np.isfinite(beta) & estimable & ~infinite,
        "infinite": infinite,
        "estimable": estimable,
    }


# --------------------------------------------------------------------------- log-rank sums, vectorised


def logrank_many(time: np.ndarray, event: np.ndarray, high: np.ndarray) -> dict[str, np.ndarray]:
    """Two-group log-rank test for each column of ``high`` (1 = group 2, 0 = group 1, NaN = not used)."""
    s = sort_times(time, event)
    h = np.asarray(high, float)[s.order]
    mask = ~np.isnan(h)
    g1 = np.where(mask, h, 0.0)
    e = s.event[:, None]
    if mask.all():  # everyone in every model: the risk sets are shared
        n = np.broadcast_to(_rcumsum(np.ones(len(s.event)))[s.start][:, None], (len(s.start), h.shape[1]))
        d = np.broadcast_to(np.add.reduceat(s.event, s.start)[:, None], n.shape)
    else:
        n = _rcumsum(mask.astype(float))[s.start]
        d = np.add.reduceat(e * mask, s.start)
    n1 = _rcumsum(g1)[s.start]
    d1 = np.add.reduceat(e * g1, s.start)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(n > 0, n1 / n, 0.0)
        var = np.where(n > 1, d * frac * (1 - frac) * (n - d) / (n - 1), 0.0)
        obs = d1.sum(0)
        exp = (d * frac).sum(0)
        v = var.sum(0)
        chi2 = np.where(v > 0, (obs - exp) ** 2 / v, np.nan)
    return {"chi2": chi2, "observed": obs, "expected": exp, "var": v}


def logrank_scores_many(time: np.ndarray, event: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Log-rank scores per column of ``mask``, in the input row order, as R ``exactRankTests::cscores``.

    a_i = event_i - sum over times t <= t_i of d(t) / (n(t) - m(t) + 1), with n(t) at risk and m(t) rows at
    t: without ties this is event - Nelson-Aalen; with ties it is the definition R ``maxstat`` uses
    (Hothorn & Lausen 2003), so its statistics and cut-points agree with R's.
    """
    s = sort_times(time, event)
    msk = np.asarray(mask, bool)[s.order]
    em = s.event[:, None] * msk
    n = _rcumsum(msk.astype(float))[s.start]
    here = np.add.reduceat(msk.astype(float), s.start)
    d = np.add.reduceat(em, s.start)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n > 0, d / (n - here + 1), 0.0)
    cumhaz = np.cumsum(hazard, axis=0)[s.group]
    scores = np.where(msk, em - cumhaz, np.nan)
    out = np.empty_like(scores)
    out[s.order] = scores
    return out
