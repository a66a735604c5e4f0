"""Gray's (1988) K-sample test for the cumulative incidence of one cause (R ``cmprsk`` ``$Tests``).

For each stratum, walking over the distinct times: the score of group i adds
(1 - F(s-))^rho (d_1i - d_1 R_i / sum_r R_r) with R_i = n_i (1 - F_1i(s-)) / S_i(s-), and the variance is
Gray's estimator built from the same quantities (terms for the cause of interest, for the competing causes,
and a final cross term). Scores and variances of strata are added; the statistic is s' V^-1 s on K - 1 df.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gray_test"]


def gray_test(time: np.ndarray, kind: np.ndarray, group: np.ndarray, strata: np.ndarray, n_groups: int,
              rho: float = 0.0) -> float:
    """Return Gray's statistic (kind: 0 censored, 1 cause of interest, 2 other cause; group coded 0..K-1)."""
    k1 = n_groups - 1
    score = np.zeros(k1)
    var = np.zeros((k1, k1))
    for lab in np.unique(strata):
        inside = strata == lab
        with np.errstate(divide="ignore", invalid="ignore"):  # groups with nobody left at risk are masked
            s, v = _stratum(time[inside], kind[inside], group[inside], n_groups, rho)
        score += s
        var += v
    try:
        return float(score @ np.linalg.solve(var, score))
    except np.linalg.LinAlgError:
        return float("nan")


def _stratum(time: np.ndarray, kind: np.ndarray, group: np.ndarray, ng: int,
             rho: float) -> tuple[np.ndarray, np.ndarray]:
    k1 = ng - 1
    uniq, inv = np.unique(time, return_inverse=True)
    counts = np.zeros((len(uniq), 3, ng))
    np.add.at(counts, (inv, kind, group), 1.0)
    at_risk = np.bincount(group, minlength=ng).astype(float)
    f1_before, surv_before = np.zeros(ng), np.ones(ng)
    f1, surv = f1_before.copy(), surv_before.copy()
    f_pooled_before = f_pooled = 0.0
    v3, v2, c = np.zeros(ng), np.zeros((k1, ng)), np.zeros((ng, ng))
    score, var = np.zeros(k1), np.zeros((k1, k1))
    for k in range(len(uniq)):
        d1, d2 = counts[k, 1], counts[k, 2]
        nd1, nd2 = d1.sum(), d2.sum()
        if nd1 + nd2 > 0:
            live = at_risk > 0
            safe = np.where(live, at_risk, 1.0)
            surv = np.where(live, surv_before * (at_risk - d1 - d2) / safe, surv)
            f1 = np.where(live, f1_before + surv_before * d1 / safe, f1)
            h = np.where(live, at_risk / surv_before, 0.0)
            tr = h.sum()
            tq = np.where(live, at_risk * (1 - f1_before) / surv_before, 0.0).sum()
            f_pooled = f_pooled_before + nd1 / tr
            weight = (1 - f_pooled_before) ** rho
            a = weight * (np.diag(h) - np.outer(h, h) / tr)
            c += a * nd1 / (tr * (1 - f_pooled_before))
            score += np.where(live[:k1], weight * (d1[:k1] - nd1 * at_risk[:k1] * (1 - f1_before[:k1])
                                                    / (surv_before[:k1] * tq)), 0.0)
            if nd1 > 0:
                ok = live
                t4 = np.where(surv > 0, 1 - (1 - f_pooled) / np.where(surv > 0, surv, 1.0), 1.0)
                t5 = 1 - (nd1 - 1) / (tr * surv_before - 1) if nd1 > 1 else np.ones(ng)
                t3 = np.where(ok, t5 * surv_before * nd1 / (tr * safe), 0.0)
                v3 += t4 * t4 * t3
                t1 = a[:k1] - t4 * c[:k1]
                v2 += t1 * (t4 * t3)
                var += (t1 * t3) @ t1.T
            if nd2 > 0:
                ok = (surv > 0) & (d2 > 0)
                t4 = np.where(ok, (1 - f_pooled) / np.where(surv > 0, surv, 1.0), 0.0)
                t5 = np.where(d2 > 1, 1 - (d2 - 1) / np.where(at_risk > 1, at_risk - 1, 1.0), 1.0)
                t3 = np.where(ok, t5 * surv_before**2 * d2 / safe**2, 0.0)
                v3 += t4 * t4 * t3
                t1 = t4 * c[:k1]
                v2 -= t1 * (t4 * t3)
                var += (t1 * t3) @ t1.T
        at_risk -= counts[k].sum(0)
        f_pooled_before, f1_before, surv_before = f_pooled, f1.copy(), surv.copy()
    var += (c[:k1] * v3) @ c[:k1].T + c[:k1] @ v2.T + v2 @ c[:k1].T
    return score, var
