"""Vectorised screen against lifelines/statsmodels per-marker fits, cutpoint honesty, landmarking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from lifelines.datasets import load_gbsg2, load_lung
from lifelines.statistics import logrank_test
from scipy import stats
from sklearn.datasets import load_breast_cancer
from statsmodels.stats.multitest import multipletests

from analysis import cutpoints, screen, survival, transforms

TOL = 1e-6
LUNG_MARKERS = ["age", "ph.karno", "pat.karno", "meal.cal"]  # with NAs: n differs per marker


def test_continuous_screen_matches_lifelines_per_marker():
    lung = load_lung()
    res = screen.run(lung, LUNG_MARKERS, screen.Survival("time", "status"), transform="log2")
    for m in LUNG_MARKERS:
        sub = lung[["time", "status", m]].dropna()
        sub = sub.assign(**{m: np.log2(sub[m])})
        ref = CoxPHFitter().fit(sub, "time", "status", fit_options={"precision": 1e-12, "r_precision": 1e-14})
        assert res.loc[m, "n"] == len(sub) and res.loc[m, "events"] == sub.status.sum()
        assert res.loc[m, "coef"] == pytest.approx(ref.params_.iloc[0], abs=TOL)
        assert res.loc[m, "se"] == pytest.approx(ref.standard_errors_.iloc[0], abs=TOL)
        assert res.loc[m, "p"] == pytest.approx(ref.summary["p"].iloc[0], abs=TOL)
        assert res.loc[m, "effect"] == pytest.approx(np.exp(ref.params_.iloc[0]), rel=TOL)
    np.testing.assert_allclose(res["q"], multipletests(res["p"], method="fdr_bh")[1], atol=1e-12)


def test_median_split_screen_matches_logrank_and_cox():
    g = load_gbsg2()
    markers = ["age", "tsize", "pnodes", "progrec", "estrec"]
    res = screen.run(g, markers, screen.Survival("time", "cens"), transform="none", cut="median")
    for m in markers:
        high = g[m] > g[m].median()
        ref = logrank_test(g.time[high], g.time[~high], g.cens[high], g.cens[~high])
        assert res.loc[m, "statistic"] == pytest.approx(ref.test_statistic, abs=TOL)
        assert res.loc[m, "p"] == pytest.approx(ref.p_value, abs=TOL)
        own = survival.logrank(g.assign(high=high), "time", "cens", "high")
        assert res.loc[m, "p"] == pytest.approx(own.p, abs=TOL)
        fit = survival.cox(g.assign(high=high * 1.0), "time", "cens", ["high"])
        assert res.loc[m, "effect"] == pytest.approx(fit.table.loc["high", "hr"], rel=TOL)
        assert res.loc[m, "n_high"] == high.sum()


def test_adjusted_screen_equals_general_cox():
    g = load_gbsg2()
    res = screen.run(g, ["tsize", "pnodes"], screen.Survival("time", "cens"), transform="log2",
                     covariates=["age", "horTh"])
    for m in ["tsize", "pnodes"]:
        fit = survival.cox(g.assign(x=np.log2(g[m])), "time", "cens", ["x", "age", "horTh"])
        assert res.loc[m, "coef"] == pytest.approx(fit.table.loc["x", "coef"], abs=1e-9)
        assert res.loc[m, "p"] == pytest.approx(fit.table.loc["x", "p"], abs=1e-9)


def test_binary_screen_matches_statsmodels_logit():
    d = load_breast_cancer(as_frame=True).frame
    d = d.assign(malignant=1 - d["target"])
    markers = ["mean radius", "mean texture", "mean area", "mean smoothness", "worst symmetry"]
    res = screen.run(d, markers, screen.Binary("malignant"), transform="log2")
    adj = screen.run(d, markers[:2], screen.Binary("malignant"), transform="log2", covariates=["mean area"])
    for m in markers:
        fit = sm.Logit(d.malignant, sm.add_constant(np.log2(d[m]))).fit(disp=0)
        assert res.loc[m, "coef"] == pytest.approx(fit.params.iloc[1], abs=TOL)
        assert res.loc[m, "se"] == pytest.approx(fit.bse.iloc[1], abs=TOL)
    x = sm.add_constant(pd.DataFrame({"x": np.log2(d["mean texture"]), "a": d["mean area"]}))
    fit = sm.Logit(d.malignant, x).fit(disp=0)
    assert adj.loc["mean texture", "coef"] == pytest.approx(fit.params["x"], abs=TOL)
    assert adj.attrs["effect"] == "OR"


def test_maxstat_equals_brute_force_over_cuts():
    g = load_gbsg2()
    for m in ["tsize", "progrec"]:
        best = cutpoints.maxstat_survival(g, "time", "cens", m)
        x = g[m].to_numpy(float)
        # log-rank scores as R maxstat (Hothorn & Lausen 2003): event - sum over t_j <= t_i of
        # d_j / (number with time > t_j + 1); without ties this is event - Nelson-Aalen
        t, e = g.time.to_numpy(float), g.cens.to_numpy(float)
        na = {u: e[t == u].sum() / ((t > u).sum() + 1) for u in np.unique(t)}
        a = e - np.array([sum(h for u, h in na.items() if u <= ti) for ti in t])
        n, zs = len(x), []
        for c in np.unique(x)[:-1]:
            low = x <= c
            k = low.sum()
            if max(1, np.floor(0.1 * n)) <= k <= np.floor(0.9 * n):
                v = k * (n - k) / (n * (n - 1)) * ((a - a.mean()) ** 2).sum()
                zs.append((abs(a[low].sum() - k * a.mean()) / np.sqrt(v), c))
        z, c = max(zs)
        assert best.statistic == pytest.approx(z, abs=1e-9) and best.cutpoint == c


def test_lausen92_formula():
    b = np.array([1.5, 2.5, 3.2])
    phi = stats.norm.pdf(b)
    expected = phi * (b - 1 / b) * np.log(0.9 * 0.9 / (0.1 * 0.1)) + 4 * phi / b  # analysis.md section 4.6
    np.testing.assert_allclose(cutpoints.lausen92_p(b, 0.1), np.minimum(expected, 1))


def test_optimal_cut_adjusted_p_controls_false_positives_where_naive_p_does_not():
    rng = np.random.default_rng(20240611)
    n, m = 200, 1000
    markers = [f"m{i}" for i in range(m)]
    t = rng.exponential(365, n)
    c = rng.uniform(100, 1000, n)
    df = pd.DataFrame(rng.lognormal(size=(n, m)), columns=markers)
    df["time"], df["event"] = np.minimum(t, c), (t <= c).astype(float)
    res = screen.run(df, markers, screen.Survival("time", "event"), transform="log2", cut="optimal")
    naive = 2 * stats.norm.sf(res["statistic"])
    assert 0.02 <= (res["p"] < 0.05).mean() <= 0.08
    assert (naive < 0.05).mean() > 0.20
    assert res["n_high"].between(20, 180).all()


def test_landmark_removes_guarantee_time_bias():
    # response is assessed at day 90 and has no effect; only patients alive at day 90 can be responders
    rng = np.random.default_rng(7)
    n = 3000
    t = rng.exponential(400, n)
    c = rng.uniform(200, 1500, n)
    time, event = np.minimum(t, c), (t <= c).astype(float)
    response = np.where(time > 90, rng.integers(0, 2, n), 0).astype(float)
    df = pd.DataFrame({"time": time, "event": event, "response": response})
    naive = screen.run(df, ["response"], screen.Survival("time", "event"), transform="none")
    lm = screen.run(df, ["response"], screen.Survival("time", "event"), transform="none", landmark=90)
    assert naive.loc["response", "effect"] < 0.8
    assert 0.85 < lm.loc["response", "effect"] < 1.15
    assert lm.loc["response", "n"] == (time > 90).sum()


def test_transforms():
    comp = pd.DataFrame({"a": [0.5, 0.0, 0.2], "b": [0.3, 0.6, 0.2], "c": [0.2, 0.4, 0.6]})
    out = transforms.clr(comp)
    np.testing.assert_allclose(out.sum(axis=1), 0, atol=1e-12)
    logs = np.log(comp.iloc[1] + 0.1)  # pseudocount: half the smallest positive value (0.2)
    np.testing.assert_allclose(out.iloc[1], logs - logs.mean())
    np.testing.assert_allclose(transforms.log10(comp[["b"]]), np.log10(comp[["b"]]))
    with pytest.raises(ValueError, match="'a'.*zero or negative"):
        transforms.log2(comp)
    with pytest.raises(ValueError, match="transform must be"):
        screen.run(load_lung(), ["age"], screen.Survival("time", "status"), transform="sqrt")


def test_screen_bad_input():
    lung = load_lung()
    with pytest.raises(ValueError, match="'nope'.*missing"):
        screen.run(lung, ["nope"], screen.Survival("time", "status"))
    with pytest.raises(ValueError, match="optimal.*covariates"):
        screen.run(lung, ["age"], screen.Survival("time", "status"), cut="optimal", covariates=["sex"])
    with pytest.raises(ValueError, match="'status'.*zero events"):
        screen.run(lung.assign(status=0), ["age"], screen.Survival("time", "status"))


def test_participant_missing_every_marker_at_an_event_time() -> None:
    """A row with no marker value (and an event) is in no model; the vectorised fit must still agree."""
    rng = np.random.default_rng(11)
    n = 60
    df = pd.DataFrame({"time": rng.exponential(100, n).round() + 1, "status": rng.integers(0, 2, n),
                       "a": rng.lognormal(size=n), "b": rng.lognormal(size=n)})
    df.loc[0, ["a", "b"]] = np.nan
    df.loc[0, "status"] = 1
    df.loc[1, "a"] = np.nan
    res = screen.run(df, markers=["a", "b"], outcome=screen.Survival("time", "status"), transform="log2")
    for m in ("a", "b"):
        d = df.dropna(subset=[m]).assign(**{m: np.log2(df[m].dropna())})
        fit = survival.cox(d, time="time", event="status", covariates=[m])
        assert res.loc[m, "n"] == len(d)
        assert res.loc[m, "coef"] == pytest.approx(fit.table.loc[m, "coef"], abs=1e-6)
        assert res.loc[m, "se"] == pytest.approx(fit.table.loc[m, "se"], abs=1e-6)
