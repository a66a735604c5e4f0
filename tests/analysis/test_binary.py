"""Binary association against statsmodels, scikit-learn and scipy on sklearn's breast cancer data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score, roc_curve
from statsmodels.stats.proportion import proportion_confint

from analysis import binary

TOL = 1e-6


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    d = load_breast_cancer(as_frame=True).frame
    return d.assign(malignant=1 - d["target"])


@pytest.mark.parametrize("marker",
                         ["mean radius", "worst texture", "mean fractal dimension", "mean smoothness"])
def test_associate_matches_statsmodels_sklearn_scipy(cancer, marker):
    a = binary.associate(cancer, "malignant", marker)
    y, x = cancer["malignant"], cancer[marker]
    logit = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
    b = logit.params.iloc[1]
    ci = logit.conf_int().iloc[1]
    assert np.log(a.or_unit) == pytest.approx(b, abs=TOL)
    assert np.log(a.or_unit_low) == pytest.approx(ci.iloc[0], abs=TOL)
    assert np.log(a.or_unit_high) == pytest.approx(ci.iloc[1], abs=TOL)
    assert np.log(a.or_sd) == pytest.approx(b * x.std(), abs=TOL)
    assert a.p_wald == pytest.approx(logit.pvalues.iloc[1], abs=TOL)
    assert a.p_mann_whitney == pytest.approx(stats.mannwhitneyu(x[y == 1], x[y == 0]).pvalue, abs=TOL)
    assert a.auc == pytest.approx(roc_auc_score(y, x), abs=TOL)
    fpr, tpr, thr = roc_curve(y, x if a.direction == "higher" else -x)
    i = np.argmax(tpr - fpr)
    assert (a.sensitivity, a.specificity) == pytest.approx((tpr[i], 1 - fpr[i]), abs=TOL)
    assert a.youden_cut == pytest.approx(thr[i] if a.direction == "higher" else -thr[i])
    assert (a.n, a.events) == (569, 212)


def test_delong_se_equals_structural_components_by_definition(cancer):
    y = cancer["malignant"].to_numpy()
    x = cancer["worst texture"].round(0).to_numpy()  # rounding creates ties
    auc, se = binary.delong(y, x)
    pos, neg = x[y == 1], x[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(1), psi.mean(0)
    assert auc == pytest.approx(psi.mean(), abs=1e-12)
    assert se == pytest.approx(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)), abs=1e-12)


def test_delong_ci_reproduces_analysis_notes(cancer):
    a = binary.associate(cancer, "malignant", "mean radius")  # analysis.md: n=569 DeLong 0.917-0.958
    assert (round(a.auc_low, 3), round(a.auc_high, 3)) == (0.917, 0.958)


@pytest.mark.parametrize(("k", "n"), [(0, 20), (7, 20), (20, 20), (33, 57)])
def test_rate_is_clopper_pearson(k, n):
    r = binary.rate(k, n)
    lo, hi = proportion_confint(k, n, method="beta")
    assert (r.lower, r.upper) == pytest.approx((lo, hi), abs=1e-10)
    assert r.rate == k / n


def test_missing_rows_dropped_and_bad_outcome_rejected(cancer):
    d = cancer.copy()
    d.loc[:9, "mean radius"] = np.nan
    assert binary.associate(d, "malignant", "mean radius").n == 559
    with pytest.raises(ValueError, match=r"'malignant'.*0/1"):
        binary.associate(d.assign(malignant=d.malignant * 2), "malignant", "mean radius")
    with pytest.raises(ValueError, match=r"'nope'.*missing"):
        binary.associate(d, "malignant", "nope")
    with pytest.raises(ValueError, match=r"'malignant'.*both 0 and 1"):
        binary.associate(d.assign(malignant=0), "malignant", "mean radius")


def test_separation_is_flagged():
    df = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1], "x": [1.0, 2, 3, 4, 5, 6]})
    a = binary.associate(df, "y", "x")
    assert not a.converged and a.auc == 1.0


def test_separation_complete_or_quasi_is_flagged_not_converged():
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    complete = pd.DataFrame({"y": [0, 0, 0, 0, 1, 1, 1, 1], "x": x})
    # groups touch at 4
    quasi = pd.DataFrame({"y": [0, 0, 0, 1, 0, 1, 1, 1], "x": [1.0, 2, 3, 4, 4, 6, 7, 8]})
    for frame in (complete, quasi):
        a = binary.associate(frame, "y", "x")
        assert not a.converged and "separation" in a.reason
        assert a.or_unit == np.inf and np.isnan(a.or_unit_low) and np.isnan(a.p_wald)
    overlap = pd.DataFrame({"y": [0, 0, 1, 0, 1, 0, 1, 1], "x": x})
    assert binary.associate(overlap, "y", "x").converged
    fit = binary.logistic_many(np.array([0, 1, 0, 1.0]),
                               np.array([[2.0, np.nan], [2.0, np.nan], [2.0, 1], [2.0, 1]]))
    assert np.isnan(fit["coef"]).all() and not fit["estimable"].any()  # constant and all-missing: no estimate


def test_firth_logistic_maximises_the_penalised_likelihood():
    """Firth's estimate is the stationary point of l(b) + log|I(b)| / 2 (checked with statsmodels' own
    likelihood and Hessian, by central differences), and it is finite under separation."""
    x = np.array([1.0, 2, 3, 4, 4, 6, 7, 8])
    y = np.array([0.0, 0, 0, 1, 0, 1, 1, 1])
    fit = binary.firth_logistic(y, x)
    assert fit["converged"] and np.isfinite(fit["coef"]).all()
    model = sm.Logit(y, sm.add_constant(x))

    def penalised(b):
        return model.loglike(b) + 0.5 * np.linalg.slogdet(-model.hessian(b))[1]

    h = 1e-6
    grad = [(penalised(fit["coef"] + h * e) - penalised(fit["coef"] - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(grad, 0, atol=1e-6)
    a = binary.associate(pd.DataFrame({"y": y, "x": x}), "y", "x", firth=True)
    assert a.firth and a.or_unit == pytest.approx(np.exp(fit["coef"][1])) and np.isfinite(a.or_unit_high)
