"""Decision curves, watch-and-wait table, calibration and discrimination metrics against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from analysis.calibration import calibration_points, calibration_slope_intercept
from analysis.decision import decision_curve, watch_and_wait_table, wilson_interval
from analysis.signatures.metrics import cumulative_dynamic_auc, delong_auc

# ten cCR patients: 1 = residual disease, prob = predicted probability of residual disease
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([0.9, 0.7, 0.4, 0.15, 0.6, 0.35, 0.2, 0.1, 0.05, 0.3])


def test_net_benefit_matches_hand_computation() -> None:
    dc = decision_curve(Y, P, [0.2, 0.5])
    # pt = 0.2: treated = prob >= 0.2 → 0.9 0.7 0.4 | 0.6 0.35 0.2 0.3 → TP 3, FP 4
    assert dc.loc[0, "net_benefit_model"] == pytest.approx(3 / 10 - 4 / 10 * 0.2 / 0.8)
    assert dc.loc[0, "net_benefit_all"] == pytest.approx(0.4 - 0.6 * 0.25)
    # pt = 0.5: treated 0.9 0.7 | 0.6 → TP 2, FP 1
    assert dc.loc[1, "net_benefit_model"] == pytest.approx(2 / 10 - 1 / 10 * 1.0)
    assert dc.loc[1, "net_benefit_all"] == pytest.approx(0.4 - 0.6)
    assert (dc["net_benefit_none"] == 0).all()
    assert list(dc["true_positives"]) == [3, 2] and list(dc["false_positives"]) == [4, 1]


def test_default_threshold_grid() -> None:
    dc = decision_curve(Y, P)
    assert dc["threshold"].iloc[0] == 0.01 and dc["threshold"].iloc[-1] == 0.99 and len(dc) == 99


def test_watch_and_wait_counts_and_wilson_intervals() -> None:
    tab = watch_and_wait_table(Y, P, [0.2, 0.5], per=100)
    # pt = 0.2: spared (prob < 0.2) = 0.15 (residual), 0.1, 0.05 → 3 avoided, 1 missed
    row = tab.iloc[0]
    assert row["surgeries_avoided"] == 3 and row["surgeries_avoided_per"] == pytest.approx(30)
    assert row["residual_missed"] == 1 and row["residual_missed_per"] == pytest.approx(10)
    assert row["missed_among_residual"] == pytest.approx(0.25)
    lo, hi = proportion_confint(3, 10, method="wilson")
    assert row["surgeries_avoided_ci_low"] == pytest.approx(100 * lo)
    assert row["surgeries_avoided_ci_high"] == pytest.approx(100 * hi)
    lo, hi = proportion_confint(1, 4, method="wilson")
    assert row["missed_among_residual_ci_low"] == pytest.approx(lo)
    # pt = 0.5: spared = 0.4 0.15 | 0.35 0.2 0.1 0.05 0.3 → 7 avoided, 2 missed
    assert tab.iloc[1]["surgeries_avoided"] == 7 and tab.iloc[1]["residual_missed"] == 2


def test_bad_decision_inputs() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        decision_curve(Y, P, [0.0, 0.5])
    with pytest.raises(ValueError, match="y must be 0/1"):
        decision_curve(Y * 2, P)
    with pytest.raises(ValueError, match="same length"):
        watch_and_wait_table(Y[:5], P, [0.2])


def test_wilson_matches_statsmodels() -> None:
    lo, hi = wilson_interval(np.array([0, 7, 20]), 20)
    for k, a, b in zip([0, 7, 20], lo, hi, strict=True):
        ref = proportion_confint(k, 20, method="wilson")
        assert (a, b) == pytest.approx(ref)


def test_calibration_matches_statsmodels_glm() -> None:
    rng = np.random.default_rng(3)
    prob = rng.uniform(0.05, 0.95, 300)
    y = (rng.uniform(size=300) < prob**1.5).astype(float)
    lp = np.log(prob / (1 - prob))
    out = calibration_slope_intercept(y, prob)
    slope_fit = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
    citl = sm.GLM(y, np.ones(300), family=sm.families.Binomial(), offset=lp).fit()
    assert out["slope"] == pytest.approx(slope_fit.params[1], rel=1e-8)
    assert out["intercept"] == pytest.approx(citl.params[0], rel=1e-8)
    pts = calibration_points(y, prob)
    assert len(pts) == 10 and pts["n"].sum() == 300
    assert pts["predicted"].is_monotonic_increasing


def test_delong_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    y = np.r_[np.ones(15), np.zeros(25)].astype(int)
    s = np.round(rng.normal(size=40) + y, 1)  # rounding creates ties
    auc, var = delong_auc(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s))
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    assert var == pytest.approx(v10.var(ddof=1) / 15 + v01.var(ddof=1) / 25)


def test_time_dependent_auc_without_censoring_is_plain_auc() -> None:
    rng = np.random.default_rng(6)
    t = rng.exponential(500, 60) + 1
    risk = -np.log(t) + rng.normal(size=60)
    e = np.ones(60)
    cases = t <= 365
    expected = roc_auc_score(cases, risk)
    assert cumulative_dynamic_auc(t, e, risk, 365) == pytest.approx(expected)
