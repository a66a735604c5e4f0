"""Survival statistics against R (survival 3.x) run at test time on R's own datasets and on tied data.

cox.zph (survival >= 3, every transform, strata), concordance within strata, Kaplan-Meier medians and their
CIs where the curve sits exactly at 0.5, reverse Kaplan-Meier follow-up, and the monotone-likelihood flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import survival
from tests.analysis.r_oracle import run_r

TOL = 1e-6

R_CODE = r"""
pbc <- na.omit(survival::pbc[, c("time", "status", "age", "edema", "bili", "albumin", "protime", "sex",
                                 "trt")])
pbc$status <- as.integer(pbc$status == 2)
pbc$lbili <- log(pbc$bili)
pbc$female <- as.integer(pbc$sex == "f")
out(pbc, "pbc")
f <- coxph(Surv(time, status) ~ age + edema + lbili + albumin + protime + female, data = pbc)
for (tr in c("km", "rank", "identity", "log")) out(cox.zph(f, transform = tr)$table, paste0("zph_pbc_", tr))
out(data.frame(coef = coef(f), se = sqrt(diag(vcov(f)))), "cox_pbc")

vet <- survival::veteran
vet$celltype <- as.character(vet$celltype)
out(vet, "veteran")
f <- coxph(Surv(time, status) ~ trt + karno + celltype + age + strata(prior), data = vet)
out(cox.zph(f)$table, "zph_vet")
out(data.frame(c = f$concordance[["concordance"]], coef = coef(f)), "vet")

col <- na.omit(survival::colon[survival::colon$etype == 2,
                                c("time", "status", "rx", "age", "sex", "nodes", "extent", "differ")])
col$rx <- as.character(col$rx)
out(col, "colon")
f <- coxph(Surv(time, status) ~ rx + age + sex + nodes + strata(extent, differ), data = col)
out(data.frame(c = f$concordance[["concordance"]], coef = coef(f)), "colon_cox")
out(cox.zph(f, transform = "rank")$table, "zph_colon")

lung <- survival::lung
lung$status <- lung$status - 1
out(lung, "lung")
s <- survfit(Surv(time, status) ~ ph.ecog, data = lung)
out(summary(s)$table[, c("median", "0.95LCL", "0.95UCL")], "km_lung")
s <- survfit(Surv(time, 1 - status) ~ sex, data = lung)
out(summary(s)$table[, c("records", "events", "median", "0.95LCL", "0.95UCL")], "fu_lung")

ties <- inp("ties")
s <- survfit(Surv(time, event) ~ group, data = ties)
out(summary(s)$table[, c("median", "0.95LCL", "0.95UCL")], "km_ties")
s <- survfit(Surv(time, event) ~ group, data = ties, conf.type = "log-log")
out(summary(s)$table[, c("median", "0.95LCL", "0.95UCL")], "km_ties_loglog")

mono <- inp("mono")
w <- NULL
f <- withCallingHandlers(coxph(Surv(time, event) ~ x + z, data = mono),
                         warning = function(m) { w <<- conditionMessage(m); invokeRestart("muffleWarning") })
out(data.frame(warning = w, lr = 2 * diff(f$loglik), z = coef(f)[["z"]]), "mono")
"""


def _ties() -> pd.DataFrame:
    """Groups whose Kaplan-Meier curve sits exactly at 0.5: to the end, on a flat stretch, at a tie."""
    groups = {
        "flat_to_end": ([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0]),  # S = 5/6, 4/6, 1/2 then censored
        "flat_then_drop": ([1, 2, 3, 4], [1, 1, 1, 1]),  # S = .75, .5, .25, 0: midpoint 2.5
        "censored_at_half": ([1, 2, 3, 4], [1, 1, 0, 0]),  # S = .75, .5, .5, .5
        "tied_half": ([2, 2, 5, 5, 7, 9, 9, 12], [1, 1, 1, 1, 0, 1, 0, 1]),  # ties land on 0.5
        "never": ([1, 2, 3, 4, 5], [1, 0, 0, 0, 0]),
    }
    rng = np.random.default_rng(3)
    t = np.round(rng.exponential(20, 60)) + 1  # whole days: many ties
    e = (rng.uniform(size=60) < 0.7).astype(int)
    groups["random_ties"] = (t.tolist(), e.tolist())
    rows = [(g, ti, ei) for g, (ts, es) in groups.items() for ti, ei in zip(ts, es, strict=True)]
    return pd.DataFrame(rows, columns=["group", "time", "event"])


def _mono() -> pd.DataFrame:
    """Every event in the x = 1 group: the likelihood in x is monotone (R: coefficient may be infinite)."""
    rng = np.random.default_rng(8)
    n = 40
    x = np.repeat([0.0, 1.0], n // 2)
    time = np.round(rng.exponential(50, n)) + 1
    event = np.where(x == 1, (rng.uniform(size=n) < 0.8), 0).astype(float)
    return pd.DataFrame({"time": time, "event": event, "x": x, "z": rng.normal(size=n)})


@pytest.fixture(scope="module")
def r() -> dict[str, pd.DataFrame]:
    return run_r(R_CODE, {"ties": _ties(), "mono": _mono()})


def test_ph_test_equals_cox_zph_for_every_transform(r: dict[str, pd.DataFrame]) -> None:
    pbc = r["pbc"]
    fit = survival.cox(pbc, "time", "status", ["age", "edema", "lbili", "albumin", "protime", "female"])
    np.testing.assert_allclose(fit.table["coef"], r["cox_pbc"]["coef"], atol=TOL)
    for transform in ("km", "rank", "identity", "log"):
        ours = survival.ph_test(fit, transform)
        ref = r[f"zph_pbc_{transform}"]
        assert list(ours.index) == list(ref.index)
        np.testing.assert_allclose(ours.to_numpy(), ref[["chisq", "df", "p"]].to_numpy(), atol=TOL, rtol=TOL)


def test_ph_test_with_strata_and_a_categorical_term(r: dict[str, pd.DataFrame]) -> None:
    vet = r["veteran"]
    fit = survival.cox(vet, "time", "status", ["trt", "karno", "celltype", "age"], strata="prior")
    ours, ref = survival.ph_test(fit), r["zph_vet"]
    assert ours.loc["celltype", "df"] == 3  # one term for the factor, as R
    np.testing.assert_allclose(ours.to_numpy(), ref.loc[ours.index, ["chisq", "df", "p"]].to_numpy(),
                               atol=TOL)
    col = r["colon"].assign(stratum=lambda d: d["extent"].astype(str) + "/" + d["differ"].astype(str))
    fit = survival.cox(col, "time", "status", ["rx", "age", "sex", "nodes"], strata="stratum")
    ours, ref = survival.ph_test(fit, "rank"), r["zph_colon"]
    np.testing.assert_allclose(ours.to_numpy(), ref.loc[ours.index, ["chisq", "df", "p"]].to_numpy(),
                               atol=TOL)


def test_concordance_of_a_stratified_model_compares_within_strata(r: dict[str, pd.DataFrame]) -> None:
    vet = r["veteran"]
    fit = survival.cox(vet, "time", "status", ["trt", "karno", "celltype", "age"], strata="prior")
    assert fit.concordance == pytest.approx(r["vet"]["c"].iloc[0], abs=TOL)
    col = r["colon"].assign(stratum=lambda d: d["extent"].astype(str) + "/" + d["differ"].astype(str))
    fit = survival.cox(col, "time", "status", ["rx", "age", "sex", "nodes"], strata="stratum")
    assert fit.concordance == pytest.approx(r["colon_cox"]["c"].iloc[0], abs=TOL)
    pooled = survival.concordance(fit.design.time, fit.design.event,
                                  fit.design.x @ fit.table["coef"].to_numpy())
    assert abs(pooled - fit.concordance) > 1e-4  # pooling pairs across strata would differ


def test_km_median_and_ci_follow_r_at_ties_with_half(r: dict[str, pd.DataFrame]) -> None:
    ties = _ties()
    for conf_type, key in (("log", "km_ties"), ("log-log", "km_ties_loglog")):
        fit = survival.km(ties, "time", "event", "group", conf_type=conf_type)
        ref = r[key].rename(index=lambda s: s.split("=", 1)[1])
        ours = fit.median.loc[ref.index, ["median", "lower", "upper"]].to_numpy()
        np.testing.assert_allclose(ours, ref.to_numpy(), atol=TOL, equal_nan=True)
    fit = survival.km(ties, "time", "event", "group")
    assert fit.median.loc["flat_to_end", "median"] == 3  # R: the first time S <= 0.5, not "not reached"
    assert fit.median.loc["flat_then_drop", "median"] == 2.5  # midpoint of the flat stretch at 0.5


def test_km_median_ci_on_lung(r: dict[str, pd.DataFrame]) -> None:
    lung = r["lung"]
    fit = survival.km(lung.dropna(subset=["ph.ecog"]), "time", "status", "ph.ecog")
    ref = r["km_lung"].rename(index=lambda s: float(s.split("=", 1)[1]))
    np.testing.assert_allclose(fit.median.loc[ref.index, ["median", "lower", "upper"]].to_numpy(),
                               ref.to_numpy(),
                               atol=TOL, equal_nan=True)


def test_median_follow_up_is_the_reverse_kaplan_meier(r: dict[str, pd.DataFrame]) -> None:
    fu = survival.followup(r["lung"], "time", "status", "sex")
    ref = r["fu_lung"].rename(index=lambda s: float(s.split("=", 1)[1]))
    np.testing.assert_allclose(fu.table.loc[ref.index, ["n", "censored", "median", "lower", "upper"]]
                               .to_numpy(),
                               ref.to_numpy(), atol=TOL, equal_nan=True)


def test_monotone_likelihood_is_flagged_like_r(r: dict[str, pd.DataFrame]) -> None:
    ref = r["mono"].iloc[0]
    assert "coefficient may be infinite" in ref["warning"] and "variable  1" in ref["warning"]
    fit = survival.cox(_mono(), "time", "event", ["x", "z"])
    assert not fit.converged and "monotone likelihood" in fit.reason
    assert np.isinf(fit.table.loc["x", "coef"]) and np.isnan(fit.table.loc["x", "p"])
    assert np.isfinite(fit.table.loc["z", "coef"])
    # the likelihood-ratio statistic is the supremum R approaches (R stops a little short of it)
    assert fit.lr_stat == pytest.approx(ref["lr"], rel=1e-4) and fit.lr_stat >= ref["lr"] - 1e-9
    firth = survival.cox(_mono(), "time", "event", ["x", "z"], firth=True)
    assert firth.converged and np.isfinite(firth.table["coef"]).all() and firth.table.loc["x", "coef"] > 2
