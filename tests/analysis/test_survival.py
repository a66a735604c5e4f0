"""Survival functions against lifelines, statsmodels and (optionally) scikit-survival on shipped data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_gbsg2, load_lung, load_rossi
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import concordance_index
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from analysis import survival

TOL = 1e-6
Z = 1.959963984540054


def lifelines_cox(df: pd.DataFrame, **kw) -> CoxPHFitter:
    return CoxPHFitter().fit(df, fit_options={"precision": 1e-12, "r_precision": 1e-14}, **kw)


def test_cox_matches_lifelines_on_rossi():
    d = load_rossi()
    cov = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    fit = survival.cox(d, "week", "arrest", cov)
    ref = lifelines_cox(d, duration_col="week", event_col="arrest")
    s = ref.summary
    np.testing.assert_allclose(fit.table["coef"], s["coef"], atol=TOL)
    np.testing.assert_allclose(fit.table["se"], s["se(coef)"], atol=TOL)
    np.testing.assert_allclose(fit.table["hr_low"], s["exp(coef) lower 95%"], rtol=TOL)
    np.testing.assert_allclose(fit.table["hr_high"], s["exp(coef) upper 95%"], rtol=TOL)
    np.testing.assert_allclose(fit.table["z"], s["z"], atol=TOL)
    np.testing.assert_allclose(fit.table["p"], s["p"], atol=TOL)
    assert fit.loglik == pytest.approx(ref.log_likelihood_, abs=TOL)
    lr = ref.log_likelihood_ratio_test()
    assert fit.lr_stat == pytest.approx(lr.test_statistic, abs=TOL)
    assert fit.lr_df == lr.degrees_freedom
    assert fit.lr_p == pytest.approx(lr.p_value, abs=TOL)
    assert fit.concordance == pytest.approx(ref.concordance_index_, abs=TOL)
    assert (fit.n, fit.events) == (432, 114)


def test_cox_drops_incomplete_rows_like_r_and_matches_statsmodels_efron():
    lung = load_lung()  # 228 rows, ph.ecog has one NA: R gives n=227, 164 events
    fit = survival.cox(lung, "time", "status", ["age", "sex", "ph.ecog"])
    assert (fit.n, fit.events) == (227, 164)
    sub = lung[["time", "status", "age", "sex", "ph.ecog"]].dropna()
    ref = lifelines_cox(sub, duration_col="time", event_col="status")
    np.testing.assert_allclose(fit.table["coef"], ref.params_, atol=TOL)
    ph = PHReg(sub["time"], sub[["age", "sex", "ph.ecog"]], status=sub["status"], ties="efron").fit()
    np.testing.assert_allclose(fit.table["coef"], ph.params, atol=TOL)
    np.testing.assert_allclose(fit.table["se"], ph.bse, atol=TOL)
    c = concordance_index(sub["time"], -(sub[["age", "sex", "ph.ecog"]].to_numpy() @ ph.params),
                          sub["status"])
    assert fit.concordance == pytest.approx(c, abs=TOL)


def test_cox_categorical_covariate_and_strata():
    g = load_gbsg2()
    fit = survival.cox(g, "time", "cens", ["age", "horTh", "tgrade"])
    assert fit.reference == {"horTh": "no", "tgrade": "I"}
    coded = g.assign(horTh_yes=(g.horTh == "yes") * 1.0, II=(g.tgrade == "II") * 1.0,
                     III=(g.tgrade == "III") * 1.0)
    ref = lifelines_cox(coded[["time", "cens", "age", "horTh_yes", "II", "III"]], duration_col="time",
                        event_col="cens")
    np.testing.assert_allclose(fit.table["coef"], ref.params_, atol=TOL)
    strat = survival.cox(coded, "time", "cens", ["age", "horTh_yes"], strata="tgrade")
    ref_s = lifelines_cox(coded[["time", "cens", "age", "horTh_yes", "tgrade"]], duration_col="time",
                          event_col="cens", strata=["tgrade"])
    np.testing.assert_allclose(strat.table["coef"], ref_s.params_, atol=TOL)
    np.testing.assert_allclose(strat.table["se"], ref_s.standard_errors_, atol=TOL)


def test_logrank_matches_lifelines_and_statsmodels_with_strata():
    lung = load_lung().dropna(subset=["ph.ecog"])
    lr = survival.logrank(lung, "time", "status", "ph.ecog")
    ref = multivariate_logrank_test(lung["time"], lung["ph.ecog"], lung["status"])
    assert lr.chi2 == pytest.approx(ref.test_statistic, abs=TOL)
    assert lr.df == 3 and lr.p == pytest.approx(ref.p_value, abs=TOL)
    assert lr.table["observed"].sum() == pytest.approx(lr.table["expected"].sum())
    assert list(lr.table["n"]) == [63, 113, 50, 1]
    chi2, p = survdiff(lung["time"].values, lung["status"].values, lung["sex"].values,
                       strata=lung["ph.ecog"].values)
    strat = survival.logrank(lung, "time", "status", "sex", strata="ph.ecog")
    assert strat.chi2 == pytest.approx(chi2, abs=TOL) and strat.p == pytest.approx(p, abs=TOL)


def test_logrank_table_matches_scikit_survival():
    sksurv = pytest.importorskip("sksurv.compare")
    from sksurv.util import Surv

    lung = load_lung().dropna(subset=["ph.ecog"])
    y = Surv.from_arrays(lung["status"] == 1, lung["time"])
    chi2, _, table, cov = sksurv.compare_survival(y, lung["ph.ecog"].to_numpy(), return_stats=True)
    lr = survival.logrank(lung, "time", "status", "ph.ecog")
    assert lr.chi2 == pytest.approx(chi2, abs=TOL)
    np.testing.assert_allclose(lr.var, cov, atol=TOL)
    np.testing.assert_allclose(lr.table["expected"], table["expected"], atol=TOL)
    np.testing.assert_allclose(lr.table["observed"], table["observed"], atol=TOL)


def test_km_log_matches_statsmodels_and_loglog_matches_lifelines():
    lung = load_lung().dropna(subset=["ph.ecog"])
    fit = survival.km(lung, "time", "status", group="ph.ecog")
    loglog = survival.km(lung, "time", "status", group="ph.ecog", conf_type="log-log")
    for lv in [0.0, 1.0, 2.0]:
        part = lung[lung["ph.ecog"] == lv]
        sf = SurvfuncRight(part["time"].values, part["status"].values)
        tab = fit.table[(fit.table.group == lv) & (fit.table.n_event > 0)]
        np.testing.assert_allclose(tab["surv"], sf.surv_prob, atol=TOL)
        np.testing.assert_allclose(tab["n_risk"], sf.n_risk)
        ok = sf.surv_prob > 0
        se_log = sf.surv_prob_se[ok] / sf.surv_prob[ok]
        np.testing.assert_allclose(tab["lower"][ok], sf.surv_prob[ok] * np.exp(-Z * se_log), atol=TOL)
        np.testing.assert_allclose(tab["upper"][ok], np.minimum(1, sf.surv_prob[ok] * np.exp(Z * se_log)),
                                   atol=TOL)
        lo, hi = sf.quantile_ci(0.5, method="log")
        assert fit.median.loc[lv, ["lower", "upper"]].tolist() == [lo, hi if np.isfinite(hi) else np.nan]
        lo2, hi2 = sf.quantile_ci(0.5, method="cloglog")
        assert loglog.median.loc[lv, ["lower", "upper"]].tolist() == [lo2, hi2]
        kmf = KaplanMeierFitter().fit(part["time"], part["status"])
        assert fit.median.loc[lv, "median"] == kmf.median_survival_time_
        tab2 = loglog.table[loglog.table.group == lv]
        ci = kmf.confidence_interval_.loc[tab2["time"]]
        good = tab2["surv"].to_numpy() > 0
        np.testing.assert_allclose(tab2["lower"][good], ci.iloc[:, 0][good], atol=TOL)
        np.testing.assert_allclose(tab2["upper"][good], ci.iloc[:, 1][good], atol=TOL)
    # analysis.md: R survfit lung ~ ph.ecog, group 1: log 268-429, log-log 245-426
    assert fit.median.loc[1.0, ["lower", "upper"]].tolist() == [268, 429]
    assert loglog.median.loc[1.0, ["lower", "upper"]].tolist() == [245, 426]


def test_km_median_uses_r_midpoint_when_curve_sits_at_half():
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 1, 1]})  # S = .75, .5, .25, 0: R median 2.5
    assert survival.km(df, "t", "e").median.loc["all", "median"] == 2.5


def test_km_at_matches_lifelines_and_statsmodels():
    g = load_gbsg2()
    fit = survival.km(g, "time", "cens", group="horTh")
    at = survival.km_at(fit, 365.0)
    for lv in ["no", "yes"]:
        part = g[g.horTh == lv]
        kmf = KaplanMeierFitter().fit(part["time"], part["cens"])
        assert at.loc[lv,
                      "surv"] == pytest.approx(float(kmf.survival_function_at_times(365.0).iloc[0]), abs=TOL)
        sf = SurvfuncRight(part["time"].values, part["cens"].values)
        i = np.flatnonzero(sf.surv_times <= 365)[-1]
        se = sf.surv_prob_se[i] / sf.surv_prob[i]
        assert at.loc[lv, "lower"] == pytest.approx(sf.surv_prob[i] * np.exp(-Z * se), abs=TOL)
        assert at.loc[lv, "n_risk"] == (part["time"] >= 365).sum()
    assert survival.km_at(fit, 0.5).loc["no", "surv"] == 1.0
    assert np.isnan(survival.km_at(fit, 1e6).loc["no", "surv"])


def test_landmark_keeps_event_free_rows_and_resets_clock():
    df = pd.DataFrame({"t": [30, 90, 91, 200, 400], "e": [1, 0, 1, 0, 1], "x": [1, 2, 3, 4, 5]})
    out = survival.landmark(df, "t", "e", 90)
    assert out["x"].tolist() == [3, 4, 5]
    assert out["t"].tolist() == [1, 110, 310]


def test_scikit_survival_gene_set_efron_cox():
    sk = pytest.importorskip("sksurv.datasets")
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    x, y = sk.load_breast_cancer()
    df = x.assign(time=y["t.tdm"], event=y["e.tdm"].astype(float))
    genes = [c for c in x.columns if c.startswith("X")][:5]
    for gene in genes:
        fit = survival.cox(df, "time", "event", [gene])
        ref = CoxPHSurvivalAnalysis(ties="efron", tol=1e-12,
                                    n_iter=200).fit(df[[gene]], y[["e.tdm", "t.tdm"]])
        assert fit.table.loc[gene, "coef"] == pytest.approx(ref.coef_[0], abs=TOL)


@pytest.mark.parametrize(
    ("frame", "kwargs", "words"),
    [
        (lambda d: d.drop(columns="time"), {}, ["'time'", "missing"]),
        (lambda d: d.assign(time=d.time.astype(str)), {}, ["'time'", "numeric"]),
        (lambda d: d.assign(time=-d.time), {}, ["'time'", "negative"]),
        (lambda d: d.assign(status=d.status + 1), {}, ["'status'", "0/1"]),
        (lambda d: d.assign(status=0), {}, ["'status'", "zero events"]),
    ],
)
def test_bad_input_names_column_and_problem(frame, kwargs, words):
    lung = frame(load_lung())
    calls = [lambda: survival.cox(lung, "time", "status", ["age"]),
             lambda: survival.logrank(lung, "time", "status", "sex")]
    if "zero events" not in words:  # a Kaplan-Meier curve without events is flat at 1 (as R survfit)
        calls.append(lambda: survival.km(lung, "time", "status"))
    for call in calls:
        with pytest.raises(ValueError) as err:  # noqa: PT011 - the message is checked below
            call()
        assert all(w in str(err.value) for w in words), str(err.value)


def test_km_without_events_is_flat_at_one():
    fit = survival.km(load_lung().assign(status=0), "time", "status", "sex")
    assert (fit.table["surv"] == 1).all() and fit.median["median"].isna().all()
    assert (fit.median["events"] == 0).all()


def test_logrank_needs_two_groups():
    lung = load_lung().assign(arm="A")
    with pytest.raises(ValueError, match=r"'arm'.*at least 2 groups"):
        survival.logrank(lung, "time", "status", "arm")


def test_firth_cox_maximises_the_penalised_partial_likelihood():
    """Firth's Cox estimate is the stationary point of l(b) + log|I(b)| / 2 with statsmodels' Efron likelihood
    and Hessian (an independent implementation), by central differences."""
    rng = np.random.default_rng(21)
    n = 50
    d = pd.DataFrame({"time": np.round(rng.exponential(30, n)) + 1, "x": np.repeat([0.0, 1.0], n // 2),
                      "z": rng.normal(size=n)})
    d["event"] = np.where(d["x"] == 1, rng.uniform(size=n) < 0.7, 0).astype(float)  # monotone in x
    fit = survival.cox(d, "time", "event", ["x", "z"], firth=True)
    assert fit.converged and fit.firth and np.isfinite(fit.table["coef"]).all()
    model = PHReg(d["time"], d[["x", "z"]], status=d["event"], ties="efron")

    def penalised(b):
        return model.loglike(b) + 0.5 * np.linalg.slogdet(-model.hessian(b))[1]

    b, h = fit.table["coef"].to_numpy(), 1e-5
    grad = [(penalised(b + h * e) - penalised(b - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(grad, 0, atol=1e-5)
    assert not survival.cox(d, "time", "event", ["x", "z"]).converged


def test_time_zero_refuses_post_baseline_columns_without_a_landmark():
    rng = np.random.default_rng(5)
    n = 300
    d = pd.DataFrame({"t": rng.exponential(300, n) + 1, "e": (rng.uniform(size=n) < 0.7).astype(float),
                      "ccr": rng.integers(0, 2, n).astype(float), "known": rng.uniform(60, 120, n).round()})
    for call in (lambda **k: survival.cox(d, "t", "e", ["ccr"], **k),
                 lambda **k: survival.km(d, "t", "e", "ccr", **k),
                 lambda **k: survival.logrank(d, "t", "e", "ccr", **k)):
        with pytest.raises(ValueError, match=r"'ccr'.*known only after time zero.*guarantee-time bias"):
            call(post_baseline=["ccr"])
        overridden = call(post_baseline=["ccr"], allow_post_baseline=True)
        assert overridden.timing.caveat.startswith("Guarantee-time bias: ccr")
        landmarked = call(post_baseline=["ccr"], landmark=100, draw_day="known")
        assert landmarked.timing.landmark == 100 and landmarked.timing.caveat is None
        assert landmarked.timing.late_draws == int(((d["t"] > 100) & (d["known"] > 100)).sum()) > 0
    fit = survival.cox(d, "t", "e", ["ccr"], post_baseline=["ccr"], landmark=100, draw_day="known")
    kept = d[(d["t"] > 100) & (d["known"] <= 100)]
    ref = survival.cox(kept.assign(t=kept["t"] - 100), "t", "e", ["ccr"])
    assert fit.n == len(kept) and fit.table.loc["ccr", "coef"] == pytest.approx(ref.table.loc["ccr", "coef"])
    assert "Landmark at day 100" in fit.timing.describe() and "left out" in fit.timing.describe()
