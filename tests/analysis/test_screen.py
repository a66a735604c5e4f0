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
    with pytest.raises(ValueError, match=r"'a'.*zero or negative"):
        transforms.log2(comp)
    with pytest.raises(ValueError, match="transform must be"):
        screen.run(load_lung(), ["age"], screen.Survival("time", "status"), transform="sqrt")


def test_screen_bad_input():
    lung = load_lung()
    with pytest.raises(ValueError, match=r"'nope'.*missing"):
        screen.run(lung, ["nope"], screen.Survival("time", "status"))
    with pytest.raises(ValueError, match=r"optimal.*covariates"):
        screen.run(lung, ["age"], screen.Survival("time", "status"), cut="optimal", covariates=["sex"])
    with pytest.raises(ValueError, match=r"'status'.*zero events"):
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


def test_optimal_cut_keeps_its_level_on_null_markers_with_few_levels() -> None:
    """500 null 0/1 markers (n = 100): the adjusted p of a two-level marker is 1 (b < 1) or honest, never
    0."""
    rng = np.random.default_rng(2026)
    n, m = 100, 500
    markers = [f"b{i}" for i in range(m)]
    df = pd.DataFrame(rng.integers(0, 2, (n, m)).astype(float), columns=markers)
    t, c = rng.exponential(365, n), rng.uniform(100, 1000, n)
    df["time"], df["event"] = np.minimum(t, c), (t <= c).astype(float)
    res = screen.run(df, markers, screen.Survival("time", "event"), transform="none", cut="optimal")
    assert (res["p"] > 0).all() and (res["p"] <= 1).all()
    assert (res["p"] < 0.05).mean() <= 0.06
    assert (res["q"] < 0.05).sum() == 0
    small = res["statistic"] < 1
    assert small.any() and (res.loc[small, "p"] == 1).all()


def test_markers_without_information_have_nan_effects_and_say_why() -> None:
    lung = load_lung().assign(constant=5.0, empty=np.nan, zeros=lambda d: d["age"] - d["age"].min())
    res = screen.run(lung, ["age", "constant", "empty", "zeros"], screen.Survival("time", "status"),
                     transform="log2")
    for marker, note in (("constant", "no variation"), ("empty", "no values"),
                         ("zeros", "needs a pseudocount")):
        assert np.isnan(res.loc[marker, ["effect", "coef", "p"]].astype(float)).all(), marker
        assert note in res.loc[marker, "note"] and not res.loc[marker, "converged"]
    assert res.loc["age", "converged"] and res.loc["age", "note"] == ""
    assert np.isnan(res.loc["constant", "q"]) and not np.isnan(res.loc["age", "q"])
    shifted = screen.run(lung, ["zeros"], screen.Survival("time", "status"), transform="log2", pseudocount=1)
    fit = survival.cox(lung.assign(x=np.log2(lung["zeros"] + 1)), "time", "status", ["x"])
    assert shifted.loc["zeros", "coef"] == pytest.approx(fit.table.loc["x", "coef"], abs=1e-6)
    binary_res = screen.run(lung.assign(dead=lung["status"]), ["constant", "age"], screen.Binary("dead"),
                            transform="none")
    assert np.isnan(binary_res.loc["constant",
                                   "effect"]) and "no variation" in binary_res.loc["constant", "note"]


def test_infinite_estimates_are_flagged_with_a_likelihood_ratio_p_and_optional_firth() -> None:
    rng = np.random.default_rng(4)
    n = 60
    df = pd.DataFrame({"time": np.round(rng.exponential(100, n)) + 1, "x": np.repeat([1.0, 2.0], n // 2),
                       "y": rng.lognormal(size=n)})
    df["event"] = np.where(df["x"] == 2, 1.0, 0.0) * (rng.uniform(size=n) < 0.8)  # every event at x = 2
    res = screen.run(df, ["x", "y"], screen.Survival("time", "event"), transform="none")
    assert np.isinf(res.loc["x", "coef"]) and res.loc["x",
                                                      "effect"] == np.inf and not res.loc["x", "converged"]
    assert "monotone likelihood" in res.loc["x", "note"]
    fit = survival.cox(df, "time", "event", ["x"])
    assert res.loc["x", "p"] == pytest.approx(stats.chi2.sf(fit.lr_stat, 1), rel=1e-9)
    assert res.loc["y", "converged"] and np.isfinite(res.loc["y", "coef"])
    firth = screen.run(df, ["x"], screen.Survival("time", "event"), transform="none", firth=True)
    ref = survival.cox(df, "time", "event", ["x"], firth=True)
    assert firth.loc["x", "coef"] == pytest.approx(ref.table.loc["x", "coef"], abs=1e-6)
    assert "Firth" in firth.loc["x", "note"]
    df["resp"] = (df["y"] > df["y"].median()).astype(float)
    sep = screen.run(df, ["y"], screen.Binary("resp"), transform="none")
    assert "separation" in sep.loc["y", "note"] and np.isinf(sep.loc["y", "coef"])


def test_post_baseline_markers_need_a_landmark_and_each_draw_day_is_checked() -> None:
    rng = np.random.default_rng(12)
    n = 200
    df = pd.DataFrame({"time": rng.exponential(400, n) + 1,
                       "event": (rng.uniform(size=n) < 0.6).astype(float),
                       "m": rng.lognormal(size=n), "draw": rng.uniform(60, 120, n).round()})
    outcome = screen.Survival("time", "event")
    with pytest.raises(ValueError, match=r"'m'.*known only after time zero.*landmark"):
        screen.run(df, ["m"], outcome, post_baseline=True)
    biased = screen.run(df, ["m"], outcome, post_baseline=True, allow_post_baseline=True)
    assert biased.attrs["caveat"].startswith("Guarantee-time bias")
    lm = screen.run(df, ["m"], outcome, landmark=100, draw_day="draw", post_baseline=True)
    kept = df[(df["time"] > 100) & (df["draw"] <= 100)]
    assert lm.loc["m",
                  "n"] == len(kept) and lm.attrs["late_draws"] == int(((df["time"] > 100) & (df[
                      "draw"] > 100)).sum())
    fit = survival.cox(kept.assign(x=np.log2(kept["m"]), time=kept["time"] - 100), "time", "event", ["x"])
    assert lm.loc["m", "coef"] == pytest.approx(fit.table.loc["x", "coef"], abs=1e-6)
    assert lm.attrs["caveat"] is None


@pytest.mark.parametrize("cut", ["none", "median", "optimal"])
def test_blocks_give_the_numbers_of_one_whole_matrix_fit(cut: str) -> None:
    """Markers in blocks (any split, run in any process) give the whole-matrix numbers to 1e-12."""
    rng = np.random.default_rng(17)
    n, m = 300, 230
    x = rng.lognormal(size=(n, m))
    x[rng.uniform(size=(n, m)) < 0.05] = np.nan  # missing values differ per marker
    x[:, 7] = 3.0  # a constant marker
    df = pd.DataFrame(x, columns=[f"g{i:03d}" for i in range(m)])
    t = rng.exponential(365 * np.exp(-0.5 * np.log(x[:, 0]).clip(-3, 3)), n)
    c = rng.uniform(100, 1000, n)
    df["time"], df["event"] = np.ceil(np.minimum(t, c)), (t <= c).astype(float)
    markers = [f"g{i:03d}" for i in range(m)]
    outcome = screen.Survival("time", "event")
    whole = screen.run(df, markers, outcome, cut=cut, block_size=None)
    numeric = [c for c in whole.columns if c not in ("note", "converged")]
    for size in (1, 17, 100):
        blocked = screen.run(df, markers, outcome, cut=cut, block_size=size)
        np.testing.assert_allclose(blocked[numeric].to_numpy(float), whole[numeric].to_numpy(float),
                                   rtol=1e-12, atol=1e-12, equal_nan=True)
        assert (blocked["note"] == whole["note"]).all() and (blocked["converged"] == whole["converged"]).all()
    spec = screen.ScreenSpec(cut=cut)
    # a worker sees its columns
    parts = [screen.run_block(df[["time", "event", *chunk]], chunk, outcome, spec)
             for chunk in (markers[:50], markers[50:51], markers[51:])]
    assert all("q" in p and p["q"].isna().all() for p in parts)  # q needs the whole family
    combined = screen.combine(parts, outcome, spec)
    np.testing.assert_allclose(combined[numeric].to_numpy(float), whole[numeric].to_numpy(float),
                               rtol=1e-12, atol=1e-12, equal_nan=True)
    assert list(combined.index) == markers and combined.attrs["cut"] == cut
    with pytest.raises(ValueError, match="clr"):
        screen.run_block(df, markers[:3], outcome, screen.ScreenSpec(transform="clr"))
