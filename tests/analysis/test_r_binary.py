"""Cut-points, rank tests and ROC against R run at test time: maxstat (Lau92 over the whole range of the
statistic; maxstat.test statistics and cut-points with ties), wilcox.test (exact and normal approximation),
pROC (AUC and DeLong CI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import binary, cutpoints
from tests.analysis.r_oracle import run_r

TOL = 1e-6

R_CODE = r"""
b <- seq(0, 8, by = 0.005)
for (mp in c(0.1, 0.2, 0.25)) out(data.frame(b = b, p = sapply(b, pLausen92, minprop = mp, maxprop = 1 - mp)),
                                 paste0("lau_", mp * 100))
vet <- survival::veteran
out(vet, "veteran")
sim <- inp("sim")
res <- list()
for (m in c("karno", "age", "diagtime", "trt", "prior")) {
  mt <- maxstat.test(Surv(time, status) ~ vet[[m]], data = vet, smethod = "LogRank", pmethod = "Lau92",
                     minprop = 0.1, maxprop = 0.9)
  res[[m]] <- data.frame(stat = mt$statistic, cut = mt$estimate, p = mt$p.value)
}
for (m in c("x_ties", "x_binary", "x_three")) {
  mt <- maxstat.test(Surv(time, event) ~ sim[[m]], data = sim, smethod = "LogRank", pmethod = "Lau92",
                     minprop = 0.2, maxprop = 0.8)
  res[[m]] <- data.frame(stat = mt$statistic, cut = mt$estimate, p = mt$p.value)
}
mt <- maxstat.test(y ~ x_ties, data = sim, smethod = "Data", pmethod = "Lau92", minprop = 0.1, maxprop = 0.9)
res[["binary_outcome"]] <- data.frame(stat = mt$statistic, cut = mt$estimate, p = mt$p.value)
out(do.call(rbind, res), "maxstat")

w <- inp("wilcox")
res <- list()
for (k in unique(w$case)) {
  part <- w[w$case == k, ]
  res[[k]] <- data.frame(p = wilcox.test(part$x[part$y == 1], part$x[part$y == 0])$p.value)
}
out(do.call(rbind, res), "wilcox")

r <- roc(sim$y, sim$x_ties, direction = "<", quiet = TRUE)
ci <- ci.auc(r, method = "delong")
out(data.frame(auc = as.numeric(auc(r)), low = ci[1], high = ci[3]), "roc")
"""


def _sim() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 150
    x = np.round(rng.normal(10, 3, n))  # whole numbers: many ties
    t = np.round(rng.exponential(300 * np.exp(-0.1 * (x - 10)))) + 1
    c = rng.uniform(50, 800, n).round()
    return pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "x_ties": x,
                         "x_binary": rng.integers(0, 2, n).astype(float),
                         "x_three": rng.integers(0, 3, n) * 1.0,
                         "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-(x - 10) / 3))).astype(int)})


def _wilcox_cases() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    cases = {
        "small_exact": (rng.normal(size=7), rng.normal(0.8, 1, 9)),  # no ties, n < 50: exact
        "medium_exact": (rng.normal(size=30), rng.normal(0.3, 1, 45)),
        "ties": (np.round(rng.normal(size=12)), np.round(rng.normal(1, 1, 10))),  # ties: normal approximation
        "large": (rng.normal(size=60), rng.normal(0.2, 1, 70)),  # n >= 50: normal approximation
    }
    rows = [(k, 1, v) for k, (a, _) in cases.items() for v in a] + [(k, 0, v) for k, (_, b) in cases.items()
                                                                   for v in b]
    return pd.DataFrame(rows, columns=["case", "y", "x"])


@pytest.fixture(scope="module")
def r() -> dict[str, pd.DataFrame]:
    return run_r(R_CODE, {"sim": _sim(), "wilcox": _wilcox_cases()},
                 libraries=("survival", "maxstat", "pROC"))


@pytest.mark.parametrize("minprop", [0.1, 0.2, 0.25])
def test_lausen92_equals_r_over_the_whole_range_of_the_statistic(r: dict[str, pd.DataFrame],
                                                                 minprop: float) -> None:
    ref = r[f"lau_{round(minprop * 100)}"]
    ours = cutpoints.lausen92_p(ref["b"].to_numpy(), minprop)
    np.testing.assert_allclose(ours, ref["p"], atol=1e-12)
    assert (ours[ref["b"] < 1] == 1).all() and (ours >= 0).all()  # never the negative value clipped to 0


def test_maxstat_statistic_cut_and_p_equal_maxstat_test(r: dict[str, pd.DataFrame]) -> None:
    ref = r["maxstat"]
    vet, sim = r["veteran"], _sim()
    for m in ("karno", "age", "diagtime", "trt", "prior"):
        ms = cutpoints.maxstat_survival(vet, "time", "status", m, minprop=0.1)
        assert (ms.statistic, ms.cutpoint, ms.p) == pytest.approx(tuple(ref.loc[m]), abs=TOL), m
    for m in ("x_ties", "x_binary", "x_three"):
        ms = cutpoints.maxstat_survival(sim, "time", "event", m, minprop=0.2)
        assert (ms.statistic, ms.cutpoint, ms.p) == pytest.approx(tuple(ref.loc[m]), abs=TOL), m
    ms = cutpoints.maxstat_binary(sim, "y", "x_ties", minprop=0.1)
    assert (ms.statistic, ms.cutpoint, ms.p) == pytest.approx(tuple(ref.loc["binary_outcome"]), abs=TOL)


def test_mann_whitney_is_exact_for_small_samples_without_ties(r: dict[str, pd.DataFrame]) -> None:
    w = _wilcox_cases()
    for case, ref in r["wilcox"]["p"].items():
        part = w[w["case"] == case]
        p, method = binary.mann_whitney(part.loc[part["y"] == 1, "x"].to_numpy(),
                                        part.loc[part["y"] == 0, "x"].to_numpy())
        assert p == pytest.approx(ref, abs=1e-12), case
        assert method == ("exact" if case.endswith("exact") else "asymptotic")
    small = w[w["case"] == "small_exact"].rename(columns={"y": "outcome", "x": "marker"})
    assoc = binary.associate(small, "outcome", "marker")
    assert assoc.p_mann_whitney == pytest.approx(r["wilcox"].loc["small_exact", "p"], abs=1e-12)
    normal = stats.mannwhitneyu(small.loc[small.outcome == 1, "marker"],
                                small.loc[small.outcome == 0, "marker"],
                                method="asymptotic").pvalue
    assert abs(assoc.p_mann_whitney - normal) > 1e-4  # the normal approximation would be a different number


def test_auc_and_delong_ci_equal_proc(r: dict[str, pd.DataFrame]) -> None:
    assoc = binary.associate(_sim(), "y", "x_ties")
    ref = r["roc"].iloc[0]
    assert (assoc.auc, assoc.auc_low, assoc.auc_high) == pytest.approx((ref["auc"], ref["low"], ref["high"]),
                                                                       abs=TOL)
