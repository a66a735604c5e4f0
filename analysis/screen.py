"""Marker screens: one row per marker against a survival or binary outcome, with BH q-values over the family.

``run`` fits every marker at once with numpy (log-rank sums, Newton steps of all univariate Efron Cox or
logistic models together), so 1,000 markers take well under a second; with ``covariates`` it falls back to
one adjusted model per marker (``survival.cox`` / statsmodels ``Logit``). The numbers equal those of the
per-marker functions (``survival.cox``, ``survival.logrank``, ``binary.associate``).

Cuts:

- ``"none"``: the (transformed) marker is continuous; effect per unit (per doubling after ``log2``), Wald p.
- ``"median"``: high = marker > median of the model's rows; effect high vs low. p is the log-rank p for a
  survival outcome and the Wald p of the logistic model for a binary one (adjusted models: Wald p).
- ``"optimal"``: the maximally selected cut (``cutpoints.maxstat``, cuts leaving >= ``minprop`` on each
  side); ``p`` is the Lausen-Schumacher adjusted p-value, never the naive minimum p. The effect at the
  chosen cut is optimistic. Not available with covariates.

``landmark=<days>`` (survival only) keeps rows still event-free and under follow-up after the landmark and
restarts their clock, for markers measured after baseline.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from analysis import _coxcore, binary, cutpoints, multiplicity, survival, transforms
from analysis._inputs import binary_frame, numeric_column, require_columns, survival_frame

__all__ = ["Binary", "Survival", "run"]

COLUMNS = [
    "n", "events", "effect", "lower", "upper", "coef", "se", "p", "q",
    "cutpoint", "n_high", "statistic", "converged",
]


@dataclass(frozen=True)
class Survival:
    """A time-to-event outcome: follow-up ``time`` column and 0/1 ``event`` column."""

    time: str
    event: str


@dataclass(frozen=True)
class Binary:
    """A 0/1 outcome column (pCR, cCR, MPR)."""

    outcome: str


def run(
    df: pd.DataFrame,
    markers: Sequence[str],
    outcome: Survival | Binary,
    transform: str = "log2",
    covariates: Sequence[str] = (),
    landmark: float | None = None,
    cut: str = "none",
    minprop: float = 0.1,
    pseudocount: float | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Screen ``markers`` against ``outcome``; return one row per marker (index ``marker``).

    Columns: n, events (rows/events used), effect (HR or OR, named in ``attrs["effect"]``), lower, upper
    (``conf_level`` CI), coef, se (log scale), p, q (Benjamini-Hochberg over these markers), cutpoint (on the
    transformed scale; low = marker <= cutpoint), n_high, statistic (log-rank chi2 for "median", max |z| for
    "optimal"), converged (False flags separation or a non-converged fit).
    """
    markers = list(markers)
    covariates = list(covariates)
    if not markers:
        raise ValueError("markers is empty")
    if cut not in ("none", "median", "optimal"):
        raise ValueError(f"cut must be 'none', 'median' or 'optimal', got {cut!r}")
    if cut == "optimal" and covariates:
        raise ValueError("cut='optimal' has no adjusted p-value with covariates; use cut='median' or 'none'")
    require_columns(df, markers)
    if isinstance(outcome, Survival):
        data = df
        if landmark is not None:
            data = survival.landmark(df, outcome.time, outcome.event, landmark)
        base = survival_frame(data, outcome.time, outcome.event, covariates, numeric_others=False)
    elif isinstance(outcome, Binary):
        if landmark is not None:
            raise ValueError("landmark applies to survival outcomes only")
        require_columns(df, covariates)
        data = df
        base = binary_frame(df, outcome.outcome).join(df[covariates]).dropna()
    else:
        raise ValueError(  # noqa: TRY004 (the API promises ValueError for bad input)
            f"outcome must be screen.Survival or screen.Binary, got {type(outcome).__name__}"
        )
    raw = data.loc[base.index, markers]
    if not all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in raw.dtypes):
        raw = pd.DataFrame({m: numeric_column(raw, m) for m in markers}, index=base.index)  # names the column
    raw = raw.astype(float)
    x = transforms.apply(transform, raw, pseudocount)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    out = pd.DataFrame(np.nan, index=pd.Index(markers, name="marker"), columns=COLUMNS)
    out["converged"] = True

    if cut == "none":
        design = x.to_numpy()
    else:
        xv = x.to_numpy()
        if cut == "median":
            cuts = np.nanmedian(xv, axis=0) if len(xv) else np.full(len(markers), np.nan)
        else:
            scores = (
                _coxcore.logrank_scores_many(base[outcome.time].to_numpy(), base[outcome.event].to_numpy(),
                                             ~np.isnan(xv))
                if isinstance(outcome, Survival)
                else np.repeat(base[[outcome.outcome]].to_numpy(), len(markers), axis=1)
            )
            best = cutpoints.maxstat(xv, scores, minprop)
            cuts = best["cutpoint"]
            out["statistic"] = best["statistic"]
        with np.errstate(invalid="ignore"):
            design = np.where(np.isnan(xv), np.nan, (xv > cuts).astype(float))
        design[:, np.isnan(cuts)] = np.nan
        out["cutpoint"] = cuts
        out["n_high"] = np.nansum(design, axis=0)

    if isinstance(outcome, Survival):
        t, e = base[outcome.time].to_numpy(), base[outcome.event].to_numpy()
        if covariates:
            _adjusted(out, base, design, markers, covariates, lambda f, m: _cox_row(f, outcome, m, covariates))
        else:
            fit = _coxcore.fit_cox_many(t, e, design)
            _fill(out, fit)
            out["p"] = 2 * stats.norm.sf(np.abs(fit["coef"] / fit["se"]))
            if cut == "median":
                lr = _coxcore.logrank_many(t, e, design)
                out["statistic"] = lr["chi2"]
                out["p"] = stats.chi2.sf(lr["chi2"], 1)
        effect = "HR"
    else:
        y = base[outcome.outcome].to_numpy()
        if covariates:
            _adjusted(out, base, design, markers, covariates, lambda f, m: _logit_row(f, outcome, m, covariates))
        else:
            fit = binary.logistic_many(y, design)
            _fill(out, fit)
            out["p"] = 2 * stats.norm.sf(np.abs(fit["coef"] / fit["se"]))
        effect = "OR"
    if cut == "optimal":
        out["p"] = cutpoints.lausen92_p(out["statistic"].to_numpy(), minprop)
    out["effect"] = np.exp(out["coef"])
    out["lower"] = np.exp(out["coef"] - z * out["se"])
    out["upper"] = np.exp(out["coef"] + z * out["se"])
    out["q"] = multiplicity.bh(out["p"].to_numpy())
    out["n"] = out["n"].astype(int)
    out["events"] = out["events"].astype(int)
    out["converged"] = out["converged"].astype(bool)
    if cut == "none":
        out = out.drop(columns=["cutpoint", "n_high", "statistic"])
    out.attrs.update(effect=effect, transform=transform, cut=cut, landmark=landmark, covariates=covariates)
    return out


def _fill(out: pd.DataFrame, fit: dict[str, np.ndarray]) -> None:
    for key in ("coef", "se", "n", "events"):
        out[key] = fit[key]
    out["converged"] = fit["converged"]


def _adjusted(out, base, design, markers, covariates, fit_row) -> None:
    """One adjusted model per marker (covariates present): the general fitters, row by row."""
    for j, m in enumerate(markers):
        frame = base.assign(_marker=design[:, j]).dropna()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                coef, se, events = fit_row(frame, "_marker")
        except ValueError:
            continue
        out.loc[m, ["coef", "se", "n", "events"]] = [coef, se, len(frame), events]
        out.loc[m, "p"] = 2 * stats.norm.sf(abs(coef / se))
        out.loc[m, "converged"] = not caught


def _cox_row(frame, outcome: Survival, marker: str, covariates) -> tuple[float, float, int]:
    fit = survival.cox(frame, outcome.time, outcome.event, [marker, *covariates])
    return fit.table.loc[marker, "coef"], fit.table.loc[marker, "se"], fit.events


def _logit_row(frame, outcome: Binary, marker: str, covariates) -> tuple[float, float, int]:
    exog = sm.add_constant(pd.get_dummies(frame[[marker, *covariates]], drop_first=True, dtype=float))
    res = sm.Logit(frame[outcome.outcome], exog).fit(disp=0, method="newton", maxiter=100)
    return float(res.params[marker]), float(res.bse[marker]), int(frame[outcome.outcome].sum())
