"""Numerical core of the general Cox model (private): Efron partial likelihood and a Newton fit.

All functions take plain numpy arrays. Rows are sorted by time once; a risk-set sum at the ``g``-th distinct
time is a reverse cumulative sum read at that time's first row, and the sums over the tied events at a time
are ``np.add.reduceat`` over the rows of that time.

The fit follows R ``coxph.fit``: Newton-Raphson with step halving, and the same test for a coefficient that
diverges (monotone likelihood, e.g. every event in one group): once the log-likelihood stops changing, a
coefficient whose next Newton step is still large against its own size "may be infinite" (R's
``toler.inf = sqrt(eps)``). Such a fit is reported as not converged, with the reason. ``firth=True``
maximises Firth's penalised likelihood l(b) + log|I(b)|/2 instead (Heinze & Schemper 2001), which is finite
under separation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-9  # R coxph.control eps
TOLER_INF = EPS**0.5  # R coxph.control toler.inf
FLAT = 1e-13  # relative log-likelihood change below which the likelihood counts as flat
# Relative fall of the log-likelihood still taken as no fall: near the optimum a large sample's log-likelihood
# is only known to rounding (|loglik| ~ 1e4 carries ~1e-12 absolute noise), and halving against noise wastes
# forty evaluations per Newton step.
ROUNDING = 1e-10


@dataclass(frozen=True)
class Sorted:
    """Rows sorted by time with the first row of each distinct time."""

    order: np.ndarray
    time: np.ndarray
    event: np.ndarray
    start: np.ndarray  # first sorted row of each distinct time
    group: np.ndarray  # distinct-time index of each sorted row


def sort_times(time: np.ndarray, event: np.ndarray) -> Sorted:
    """Sort rows by time and index the distinct times."""
    order = np.argsort(time, kind="stable")
    t = np.asarray(time, float)[order]
    e = np.asarray(event, float)[order]
    _, start, inverse = np.unique(t, return_index=True, return_inverse=True)
    return Sorted(order, t, e, start, inverse)


def rcumsum(a: np.ndarray) -> np.ndarray:
    """Sum from each row to the last (risk-set sums on time-sorted rows)."""
    return np.cumsum(a[::-1], axis=0)[::-1]


def efron_terms(s: Sorted, x: np.ndarray, beta: np.ndarray) -> dict[str, np.ndarray]:
    """Per-event Efron pieces for sorted rows ``x`` (n x p): time index, mean and second moment of x.

    Each of the d tied events at a time gets its own term l = 0..d-1 with the tied rows weighted 1 - l/d.
    """
    xb = x @ beta
    w = np.exp(xb)
    e = s.event
    xx = x[:, :, None] * x[:, None, :]
    s0 = rcumsum(w)[s.start]
    s1 = rcumsum(w[:, None] * x)[s.start]
    s2 = rcumsum(w[:, None, None] * xx)[s.start]
    we = w * e
    d0 = np.add.reduceat(we, s.start)
    d1 = np.add.reduceat(we[:, None] * x, s.start)
    d2 = np.add.reduceat(we[:, None, None] * xx, s.start)
    d = np.add.reduceat(e, s.start).astype(int)
    g = np.repeat(np.arange(len(d)), d)  # one entry per event: its time index
    first = np.repeat(np.cumsum(d) - d, d)
    f = (np.arange(len(g)) - first) / d[g]  # Efron weight l/d for l = 0..d-1
    den = s0[g] - f * d0[g]
    m1 = (s1[g] - f[:, None] * d1[g]) / den[:, None]
    m2 = (s2[g] - f[:, None, None] * d2[g]) / den[:, None, None]
    return {"g": g, "den": den, "m1": m1, "m2": m2, "xb": xb}


def _efron_one(s: Sorted, x: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Efron log partial likelihood, score and information for sorted rows ``x`` (n x p)."""
    k = efron_terms(s, x, beta)
    e = s.event
    m1 = k["m1"]
    loglik = float(np.sum(e * k["xb"]) - np.sum(np.log(k["den"])))
    score = (e[:, None] * x).sum(0) - m1.sum(0)
    info = k["m2"].sum(0) - np.einsum("ki,kj->ij", m1, m1)
    return loglik, score, info


def efron_stats(parts: list[tuple[Sorted, np.ndarray]],
                beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Sum the Efron log-likelihood, score and information over strata."""
    ll, sc, inf = 0.0, np.zeros(len(beta)), np.zeros((len(beta), len(beta)))
    for s, x in parts:
        a, b, c = _efron_one(s, x, beta)
        ll, sc, inf = ll + a, sc + b, inf + c
    return ll, sc, inf


def _logdet(info: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(info)
    return float(value) if sign > 0 else -np.inf


def _firth_stats(parts: list[tuple[Sorted, np.ndarray]], beta: np.ndarray,
                 h: float = 1e-5) -> tuple[float, np.ndarray, np.ndarray]:
    """Penalised log-likelihood l + log|I|/2, its score (penalty gradient by central differences) and I."""
    ll, score, info = efron_stats(parts, beta)
    grad = np.zeros(len(beta))
    for k in range(len(beta)):
        step = np.zeros(len(beta))
        step[k] = h
        up = _logdet(efron_stats(parts, beta + step)[2])
        down = _logdet(efron_stats(parts, beta - step)[2])
        grad[k] = (up - down) / (2 * h)
    return ll + 0.5 * _logdet(info), score + 0.5 * grad, info


@dataclass(frozen=True)
class CoxCore:
    """Result of a Newton fit: coefficients, covariance, log-likelihoods, convergence and why not."""

    beta: np.ndarray
    cov: np.ndarray
    loglik: float
    loglik0: float
    converged: bool
    iterations: int
    infinite: np.ndarray  # per coefficient: the likelihood is monotone in it (estimate may be infinite)
    reason: str | None = None
    penalised_loglik: float | None = None  # Firth fits: the penalised log-likelihood at the estimate


def strata_parts(time: np.ndarray, event: np.ndarray, x: np.ndarray,
                 strata: np.ndarray | None) -> list[tuple[Sorted, np.ndarray]]:
    """Sort each stratum's rows by time: one (Sorted, x rows) per stratum."""
    labels = np.zeros(len(time)) if strata is None else np.asarray(strata)
    parts = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        s = sort_times(time[idx], event[idx])
        parts.append((s, x[idx][s.order]))
    return parts


def fit_cox(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    strata: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    firth: bool = False,
) -> CoxCore:
    """Fit an Efron Cox model by Newton-Raphson with step halving (as R ``coxph``), to ``tol`` on beta."""
    x = np.asarray(x, float)
    x = x - x.mean(0)  # centring changes nothing but the numerical range of exp(x b)
    parts = strata_parts(np.asarray(time, float), np.asarray(event, float), x, strata)
    stats = (lambda b: _firth_stats(parts, b)) if firth else (lambda b: efron_stats(parts, b))
    beta = np.zeros(x.shape[1])
    ll0 = efron_stats(parts, beta)[0]
    ll, score, info = stats(beta)
    converged, infinite, it = False, np.zeros(len(beta), bool), 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the iteration count is reported after the loop
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            break
        if np.max(np.abs(step)) < tol:
            beta = beta + step  # the last, tiny step costs no evaluation
            converged = bool(np.all(np.isfinite(beta)))
            break
        ll_old = ll
        new = beta + step
        ll_new, score_new, info_new = stats(new)
        halvings = 0
        while not ll_new >= ll - ROUNDING * max(1.0, abs(ll)) and halvings < 40:
            step = step / 2
            new = beta + step
            ll_new, score_new, info_new = stats(new)
            halvings += 1
        beta, ll, score, info = new, ll_new, score_new, info_new
        if not firth and abs(ll - ll_old) <= FLAT * max(1.0, abs(ll)):
            # the likelihood is flat: what is left of the Newton step tells a finite from an infinite estimate
            try:
                nxt = np.abs(np.linalg.solve(info, score))
            except np.linalg.LinAlgError:
                nxt = np.full(len(beta), np.inf)
            infinite = (nxt > EPS) & (nxt > TOLER_INF * np.abs(beta))
            if infinite.any():
                break
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
    reason = None
    if infinite.any():
        reason = "monotone likelihood: the estimate is infinite (e.g. every event in one group)"
    elif not converged:
        reason = f"no convergence in {max_iter} Newton steps (collinear covariates?)"
    if firth:
        return CoxCore(beta, cov, efron_stats(parts, beta)[0], ll0, converged and not infinite.any(), it,
                       infinite, reason, penalised_loglik=ll)
    return CoxCore(beta, cov, ll, ll0, converged and not infinite.any(), it, infinite, reason)


def score_test(time: np.ndarray, event: np.ndarray, x: np.ndarray, strata: np.ndarray | None = None) -> float:
    """Score (log-rank type) statistic of all covariates at beta = 0."""
    x = np.asarray(x, float)
    x = x - x.mean(0)
    parts = strata_parts(np.asarray(time, float), np.asarray(event, float), x, strata)
    _, score, info = efron_stats(parts, np.zeros(x.shape[1]))
    try:
        return float(score @ np.linalg.solve(info, score))
    except np.linalg.LinAlgError:
        return float("nan")
