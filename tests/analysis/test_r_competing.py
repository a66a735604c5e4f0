"""Competing risks against R cmprsk run at test time: cuminc (estimates, variances, Gray's test, timepoints)
and crr (coefficients, sandwich standard errors), on survival::mgus2 and on simulated data with ties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import competing
from tests.analysis.r_oracle import run_r

TOL = 1e-6
TIMES = [0, 12, 60, 120, 240, 400]

R_CODE = r"""
d <- survival::mgus2
d$etime <- ifelse(d$pstat == 1, d$ptime, d$futime)
d$event <- ifelse(d$pstat == 1, 1, 2 * d$death)
out(d, "mgus2")
dump_ci <- function(ci, name) {
  res <- list()
  for (nm in names(ci)[names(ci) != "Tests"])
    res[[nm]] <- data.frame(curve = nm, time = ci[[nm]]$time, est = ci[[nm]]$est, var = ci[[nm]]$var)
  out(do.call(rbind, res), paste0(name, "_curves"))
  if (!is.null(ci$Tests)) out(ci$Tests, paste0(name, "_tests"))
}
times <- c(%(times)s)
ci <- cuminc(d$etime, d$event, d$sex)
dump_ci(ci, "mgus")
tp <- timepoints(ci, times); out(tp$est, "mgus_tp_est"); out(tp$var, "mgus_tp_var")

x <- na.omit(d[, c("etime", "event", "age", "sex", "hgb", "mspike")])
x$male <- as.integer(x$sex == "M")
for (cause in 1:2) {
  f <- crr(x$etime, x$event, cbind(age = x$age, male = x$male, hgb = x$hgb, mspike = x$mspike),
           failcode = cause, cencode = 0, gtol = 1e-12, maxiter = 100)
  out(data.frame(coef = f$coef, se = sqrt(diag(f$var)), loglik = f$loglik, null = f$loglik.null),
      paste0("crr_", cause))
}

s <- inp("sim")
ci <- cuminc(s$time, s$cause, s$arm, s$site)
dump_ci(ci, "sim")
ci0 <- cuminc(s$time, s$cause, s$arm, rho = 1)
out(ci0$Tests, "sim_rho_tests")
f <- crr(s$time, s$cause, cbind(armB = as.integer(s$arm == "B"), armC = as.integer(s$arm == "C"), x = s$x),
         failcode = 2, cencode = 0, gtol = 1e-12, maxiter = 100)
out(data.frame(coef = f$coef, se = sqrt(diag(f$var))), "sim_crr")
"""


def _simulated() -> pd.DataFrame:
    """Three arms, three causes, whole-month times (many ties, between causes and with censoring), two
    sites."""
    rng = np.random.default_rng(42)
    n = 240
    arm = rng.choice(["A", "B", "C"], n)
    x = rng.normal(size=n)
    rate = np.where(arm == "B", 1.5, 1.0) * np.exp(0.3 * x)
    t1, t2, t3 = rng.exponential(30 / rate), rng.exponential(45, n), rng.exponential(80, n)
    c = rng.uniform(5, 60, n)
    t = np.minimum.reduce([t1, t2, t3, c])
    cause = np.select([t == t1, t == t2, t == t3], [1, 2, 3], 0)
    return pd.DataFrame({"time": np.ceil(t), "cause": cause, "arm": arm, "x": x,
                         "site": rng.choice(["S1", "S2"], n)})


@pytest.fixture(scope="module")
def r() -> dict[str, pd.DataFrame]:
    return run_r(R_CODE % {"times": ", ".join(map(str, TIMES))}, {"sim": _simulated()},
                 libraries=("survival", "cmprsk"))


def _check_curves(ci: competing.CumInc, curves: pd.DataFrame) -> None:
    for name, ref in curves.groupby("curve"):
        group, cause = name.rsplit(" ", 1)
        mine = ci.table[(ci.table["group"].astype(str) == group) & (ci.table["cause"] == int(cause))]
        jumps = ref.iloc[2:-1:2]  # cmprsk's step corners: (0, 0), then before/after each jump, then the end
        assert len(mine) == len(jumps), name
        np.testing.assert_allclose(mine["time"], jumps["time"], atol=0)
        np.testing.assert_allclose(mine["estimate"], jumps["est"], atol=TOL)
        np.testing.assert_allclose(mine["variance"], jumps["var"], atol=TOL, rtol=TOL)


def test_cuminc_estimates_variances_and_gray_test_on_mgus2(r: dict[str, pd.DataFrame]) -> None:
    ci = competing.cuminc(r["mgus2"], "etime", "event", "sex")
    _check_curves(ci, r["mgus_curves"])
    ref = r["mgus_tests"]
    np.testing.assert_allclose(ci.test["stat"], ref["stat"], rtol=TOL)
    np.testing.assert_allclose(ci.test["p"], ref["pv"], rtol=TOL, atol=1e-12)
    assert (ci.test["df"] == ref["df"]).all()


def test_cuminc_at_reads_the_step_function_as_timepoints(r: dict[str, pd.DataFrame]) -> None:
    ci = competing.cuminc(r["mgus2"], "etime", "event", "sex")
    at = ci.at(TIMES)
    for kind, column in (("est", "estimate"), ("var", "variance")):
        ref = r[f"mgus_tp_{kind}"]
        for label, row in ref.iterrows():
            group, cause = str(label).rsplit(" ", 1)
            mine = at[(at["group"] == group) & (at["cause"] == int(cause))].set_index("time")[column]
            np.testing.assert_allclose(mine.loc[[float(t) for t in TIMES]].to_numpy(),
                                       row.to_numpy(dtype=float),
                                       atol=TOL, equal_nan=True)
    lower, upper = at["lower"], at["upper"]
    inside = at["estimate"].between(1e-12, 1 - 1e-12)
    assert ((lower[inside] < at["estimate"][inside]) & (at["estimate"][inside] < upper[inside])).all()


def test_cuminc_with_ties_three_groups_strata_and_rho(r: dict[str, pd.DataFrame]) -> None:
    sim = _simulated()
    ci = competing.cuminc(sim, "time", "cause", "arm", strata="site")
    _check_curves(ci, r["sim_curves"])
    np.testing.assert_allclose(ci.test["stat"], r["sim_tests"]["stat"], rtol=TOL)
    assert (ci.test["df"] == 2).all()
    rho = competing.cuminc(sim, "time", "cause", "arm", rho=1)
    np.testing.assert_allclose(rho.test["stat"], r["sim_rho_tests"]["stat"], rtol=TOL)


@pytest.mark.parametrize("cause", [1, 2])
def test_fine_gray_equals_crr_on_mgus2(r: dict[str, pd.DataFrame], cause: int) -> None:
    x = r["mgus2"][["etime", "event", "age", "sex", "hgb", "mspike"]].dropna()
    x = x.assign(male=(x["sex"] == "M").astype(float))
    fit = competing.fine_gray(x, "etime", "event", cause=cause, covariates=["age", "male", "hgb", "mspike"])
    ref = r[f"crr_{cause}"]
    np.testing.assert_allclose(fit.table["coef"], ref["coef"], atol=TOL)
    np.testing.assert_allclose(fit.table["se"], ref["se"], atol=TOL)
    assert fit.loglik == pytest.approx(ref["loglik"].iloc[0], abs=TOL)
    assert fit.loglik_null == pytest.approx(ref["null"].iloc[0], abs=TOL)
    assert fit.converged and fit.n == len(x)


def test_fine_gray_with_ties_and_a_categorical_covariate(r: dict[str, pd.DataFrame]) -> None:
    fit = competing.fine_gray(_simulated(), "time", "cause", cause=2, covariates=["arm", "x"])
    assert fit.reference == {"arm": "A"}
    ref = r["sim_crr"]
    np.testing.assert_allclose(fit.table["coef"], ref["coef"], atol=TOL)
    np.testing.assert_allclose(fit.table["se"], ref["se"], atol=TOL)
    assert fit.table.loc["arm[B]", "shr"] == pytest.approx(np.exp(ref.loc["armB", "coef"]), rel=TOL)


def test_competing_input_errors() -> None:
    sim = _simulated()
    with pytest.raises(ValueError, match=r"'nope'.*missing"):
        competing.cuminc(sim, "time", "nope")
    with pytest.raises(ValueError, match="no events"):
        competing.cuminc(sim.assign(cause=0), "time", "cause")
    with pytest.raises(ValueError, match="no rows with cause 7"):
        competing.fine_gray(sim, "time", "cause", cause=7, covariates=["x"])
    with pytest.raises(ValueError, match="negative"):
        competing.cuminc(sim.assign(time=-sim["time"]), "time", "cause")
