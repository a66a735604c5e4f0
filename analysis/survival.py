"""Survival statistics on a pandas DataFrame: Cox (Efron ties), log-rank, Kaplan-Meier, landmarking.

Conventions follow R's ``survival`` package, which PIs and reviewers check against:

- ``cox`` uses Efron's tie handling (R ``coxph`` default; statsmodels/sksurv default to Breslow).
- ``km`` uses Greenwood's variance and ``conf_type="log"`` (R ``survfit`` default); ``"log-log"`` is what
  lifelines reports.
- Rows with a missing value in any column a model uses are dropped for that model only; ``n`` and ``events``
  on every result say how many rows were used.
- ``event`` is 1 for the event and 0 for censoring (R's lung data codes 1/2: recode first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis import _coxcore
from analysis._inputs import numeric_column, require_columns, survival_frame

__all__ = ["CoxFit", "KaplanMeier", "LogRank", "concordance", "cox", "km", "km_at", "landmark", "logrank"]


# ------------------------------------------------------------------------------------------------- Cox


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox proportional hazards model.

    ``table`` is indexed by covariate (a categorical covariate ``c`` becomes ``c[level]`` rows against its
    first level, named in ``reference``) with columns coef, se, hr, hr_low, hr_high (``conf_level`` CI,
    exp(coef -/+ z se)), z and p (Wald). ``lr_*`` is the global likelihood-ratio test against the null model.
    ``concordance`` is Harrell's C of the linear predictor.
    """

    table: pd.DataFrame
    n: int
    events: int
    loglik: float
    loglik_null: float
    lr_stat: float
    lr_df: int
    lr_p: float
    concordance: float
    converged: bool
    reference: dict[str, object]
    cov: pd.DataFrame
    conf_level: float = 0.95


def _design(frame: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, dict[str, object]]:
    """Numeric covariates as they are; text/categorical ones as indicators against their first level."""
    cols: dict[str, pd.Series] = {}
    reference: dict[str, object] = {}
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
            continue
        levels = list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) else sorted(s.unique())
        levels = [lv for lv in levels if (s == lv).any()]
        if len(levels) < 2:
            raise ValueError(f"covariate column {c!r} has a single level ({levels[0]!r}) among complete rows")
        reference[c] = levels[0]
        for lv in levels[1:]:
            cols[f"{c}[{lv}]"] = (s == lv).astype(float)
    x = pd.DataFrame(cols, index=frame.index)
    for c in x.columns:
        if x[c].nunique() < 2:
            raise ValueError(f"covariate column {c!r} is constant among the complete rows")
    return x, reference


def cox(
    df: pd.DataFrame,
    time: str,
    event: str,
    covariates: Sequence[str],
    strata: str | None = None,
    conf_level: float = 0.95,
) -> CoxFit:
    """Fit a Cox model with Efron ties (as R ``coxph``) on the complete rows of the named columns.

    Numeric (and boolean) covariates enter per unit; text or categorical ones as indicators against their
    first (sorted) level. ``strata`` names a column whose levels get separate baseline hazards.
    """
    covariates = list(covariates)
    if not covariates:
        raise ValueError("cox needs at least one covariate")
    others = covariates + ([strata] if strata else [])
    require_columns(df, [time, event, *others])
    frame = survival_frame(df, time, event)
    frame = frame.join(df.loc[frame.index, others]).dropna()
    if frame.empty:
        raise ValueError(f"no complete rows for columns {[time, event, *others]}")
    if int(frame[event].sum()) == 0:
        raise ValueError(f"event column {event!r} has zero events among the complete rows")
    x, reference = _design(frame, covariates)
    t = frame[time].to_numpy()
    e = frame[event].to_numpy()
    core = _coxcore.fit_cox(t, e, x.to_numpy(), None if strata is None else frame[strata].to_numpy())
    if not core.converged:
        import warnings

        warnings.warn(
            f"Cox fit did not converge for {list(x.columns)} (separation or collinearity?); "
            "coefficients are not reliable",
            RuntimeWarning,
            stacklevel=2,
        )
    z_crit = stats.norm.ppf(0.5 + conf_level / 2)
    se = np.sqrt(np.diag(core.cov))
    z = core.beta / se
    table = pd.DataFrame(
        {
            "coef": core.beta,
            "se": se,
            "hr": np.exp(core.beta),
            "hr_low": np.exp(core.beta - z_crit * se),
            "hr_high": np.exp(core.beta + z_crit * se),
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
        },
        index=pd.Index(x.columns, name="covariate"),
    )
    lr = 2 * (core.loglik - core.loglik0)
    risk = x.to_numpy() @ core.beta
    return CoxFit(
        table=table,
        n=len(frame),
        events=int(e.sum()),
        loglik=core.loglik,
        loglik_null=core.loglik0,
        lr_stat=lr,
        lr_df=x.shape[1],
        lr_p=float(stats.chi2.sf(lr, x.shape[1])),
        concordance=concordance(t, e, risk),
        converged=core.converged,
        reference=reference,
        cov=pd.DataFrame(core.cov, index=x.columns, columns=x.columns),
        conf_level=conf_level,
    )


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C: among usable pairs, the share where the higher risk fails first (risk ties count 1/2).

    A pair is usable when the shorter time is an event; at equal times an event paired with a censored
    subject is usable (the censored one is taken to outlive it), two events are not.
    """
    t, e, r = (np.asarray(a, float) for a in (time, event, risk))
    good = ties = total = 0.0
    idx = np.flatnonzero(e == 1)
    for chunk in np.array_split(idx, max(1, len(idx) * len(t) // 2_000_000 + 1)):
        ti, ri = t[chunk, None], r[chunk, None]
        usable = (t[None, :] > ti) | ((t[None, :] == ti) & (e[None, :] == 0))
        good += np.sum(usable & (ri > r[None, :]))
        ties += np.sum(usable & (ri == r[None, :]))
        total += np.sum(usable)
    return float((good + ties / 2) / total) if total else float("nan")


# --------------------------------------------------------------------------------------------- log-rank


@dataclass(frozen=True)
class LogRank:
    """A k-group log-rank test: chi2 on df = k-1, p, and ``table`` (group, n, observed, expected)."""

    chi2: float
    df: int
    p: float
    table: pd.DataFrame
    var: np.ndarray


def _group_labels(frame: pd.DataFrame, group: str) -> list:
    levels = sorted(frame[group].unique(), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise ValueError(f"group column {group!r} needs at least 2 groups among complete rows, found {levels}")
    return levels


def logrank(
    df: pd.DataFrame, time: str, event: str, group: str, strata: str | None = None
) -> LogRank:
    """Compare survival across the groups of ``group`` (as R ``survdiff``), optionally stratified."""
    others = [group] + ([strata] if strata else [])
    require_columns(df, [time, event, *others])
    frame = survival_frame(df, time, event).join(df[others]).dropna()
    levels = _group_labels(frame, group)
    k = len(levels)
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    labels = frame[strata] if strata else pd.Series(0, index=frame.index)
    for _, part in frame.groupby(labels, sort=True):
        s = _coxcore.sort_times(part[time].to_numpy(), part[event].to_numpy())
        g = part[group].to_numpy()[s.order]
        onehot = np.stack([(g == lv).astype(float) for lv in levels], axis=1)
        at_risk = _coxcore._rcumsum(onehot)[s.start]  # distinct times x k
        d_k = np.add.reduceat(onehot * s.event[:, None], s.start)
        n = at_risk.sum(1)
        d = d_k.sum(1)
        use = d > 0
        n, d, at_risk, d_k = n[use], d[use], at_risk[use], d_k[use]
        frac = at_risk / n[:, None]
        obs += d_k.sum(0)
        exp += (d[:, None] * frac).sum(0)
        scale = np.where(n > 1, d * (n - d) / np.where(n > 1, n - 1, 1), 0.0)
        var += np.einsum("t,tij->ij", scale, frac[:, :, None] * (np.eye(k)[None] - frac[:, None, :]))
    diff = (obs - exp)[:-1]
    chi2 = float(diff @ np.linalg.solve(var[:-1, :-1], diff))
    table = pd.DataFrame(
        {
            "group": levels,
            "n": [int((frame[group] == lv).sum()) for lv in levels],
            "observed": obs,
            "expected": exp,
        }
    )
    return LogRank(chi2=chi2, df=k - 1, p=float(stats.chi2.sf(chi2, k - 1)), table=table, var=var)


# --------------------------------------------------------------------------------------------- Kaplan-Meier


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier estimates by group.

    ``table``: group, time, n_risk, n_event, n_censor, surv, lower, upper (one row per distinct time, as R's
    ``summary(fit, censored=TRUE)``). ``median``: indexed by group, median with its CI (NaN when not reached).
    """

    table: pd.DataFrame
    median: pd.DataFrame
    conf_type: str
    conf_level: float


def _bands(surv: np.ndarray, gw: np.ndarray, conf_type: str, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI from S and the Greenwood sum (variance of log S), on the requested scale."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(gw)
        if conf_type == "log":
            lower = surv * np.exp(-z * se)
            upper = np.minimum(surv * np.exp(z * se), 1.0)
        else:  # log-log, as lifelines
            theta = np.log(-np.log(surv))
            lower = np.exp(-np.exp(theta - z * se / np.log(surv)))
            upper = np.exp(-np.exp(theta + z * se / np.log(surv)))
        bad = surv <= 0
        lower, upper = np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)
        unit = (surv >= 1) & (gw == 0)
        lower, upper = np.where(unit, 1.0, lower), np.where(unit, 1.0, upper)
    return lower, upper


def _quantile(times: np.ndarray, curve: np.ndarray, q: float, strict: bool) -> float:
    """First event time where ``curve`` drops to (``strict``: below) ``q``; R's midpoint rule on a flat 0.5."""
    hit = np.flatnonzero(curve < q - 1e-12) if strict else np.flatnonzero(curve <= q + 1e-12)
    if not len(hit):
        return float("nan")
    i = hit[0]
    if not strict and abs(curve[i] - q) < 1e-12:  # the curve sits exactly at q: midpoint to the next drop
        later = np.flatnonzero(curve < q - 1e-12)
        return float((times[i] + times[later[0]]) / 2) if len(later) else float("nan")
    return float(times[i])


def km(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> KaplanMeier:
    """Kaplan-Meier curves (Greenwood variance) for all rows or per level of ``group``.

    ``conf_type="log"`` is R's default (matches statsmodels ``SurvfuncRight``); ``"log-log"`` matches
    lifelines. The median CI takes the first event times where the upper/lower band falls to 0.5
    (Brookmeyer-Crowley, as R and statsmodels ``quantile_ci``).
    """
    if conf_type not in ("log", "log-log"):
        raise ValueError(f"conf_type must be 'log' or 'log-log', got {conf_type!r}")
    frame = survival_frame(df, time, event)
    if group is not None:
        require_columns(df, [group])
        frame = frame.join(df[[group]]).dropna()
        levels = sorted(frame[group].unique(), key=lambda v: (str(type(v)), v))
    else:
        frame = frame.assign(_all="all")
        group_col, levels = "_all", ["all"]
    group_col = group if group is not None else "_all"
    z = stats.norm.ppf(0.5 + conf_level / 2)
    tables, medians = [], []
    for lv in levels:
        part = frame[frame[group_col] == lv]
        t = part[time].to_numpy()
        e = part[event].to_numpy()
        uniq, inv = np.unique(t, return_inverse=True)
        n_event = np.bincount(inv, weights=e, minlength=len(uniq))
        n_total = np.bincount(inv, minlength=len(uniq)).astype(float)
        n_risk = n_total[::-1].cumsum()[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            surv = np.cumprod(1 - n_event / n_risk)
            term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
        gw = np.cumsum(term)
        lower, upper = _bands(surv, gw, conf_type, z)
        tables.append(
            pd.DataFrame(
                {
                    "group": lv,
                    "time": uniq,
                    "n_risk": n_risk.astype(int),
                    "n_event": n_event.astype(int),
                    "n_censor": (n_total - n_event).astype(int),
                    "surv": surv,
                    "lower": lower,
                    "upper": upper,
                }
            )
        )
        ev = n_event > 0
        lo_band, hi_band = lower[ev], upper[ev]  # NaN where S = 0: no information, never a crossing
        medians.append(
            {
                "group": lv,
                "n": len(part),
                "events": int(e.sum()),
                "median": _quantile(uniq[ev], surv[ev], 0.5, strict=False),
                "lower": _quantile(uniq[ev], lo_band, 0.5, strict=False),
                "upper": _quantile(uniq[ev], hi_band, 0.5, strict=True),
            }
        )
    table = pd.concat(tables, ignore_index=True)
    median = pd.DataFrame(medians).set_index("group")
    return KaplanMeier(table=table, median=median, conf_type=conf_type, conf_level=conf_level)


def km_at(fit: KaplanMeier, t: float) -> pd.DataFrame:
    """Survival at a fixed time ``t`` (e.g. 1-year DFS) with its CI, indexed by group.

    Columns surv, lower, upper, n_risk (still at risk at ``t``). NaN past a group's last observed time.
    """
    rows = []
    for lv, part in fit.table.groupby("group", sort=False):
        before = part[part["time"] <= t]
        n_risk = int((part.loc[part["time"] >= t, "n_event"] + part.loc[part["time"] >= t, "n_censor"]).sum())
        if t > part["time"].max():
            rows.append({"group": lv, "surv": np.nan, "lower": np.nan, "upper": np.nan, "n_risk": 0})
        elif before.empty:
            rows.append({"group": lv, "surv": 1.0, "lower": 1.0, "upper": 1.0, "n_risk": n_risk})
        else:
            last = before.iloc[-1]
            rows.append(
                {"group": lv, "surv": last["surv"], "lower": last["lower"], "upper": last["upper"],
                 "n_risk": n_risk}
            )
    return pd.DataFrame(rows).set_index("group")


# --------------------------------------------------------------------------------------------- landmark


def landmark(df: pd.DataFrame, time: str, event: str, at: float) -> pd.DataFrame:
    """Keep rows still event-free and under follow-up after ``at`` and restart their clock (time - at).

    Use it for a marker measured after baseline (cCR status, post-treatment ctDNA), so the analysis cannot
    borrow the guarantee time of patients who had to survive long enough to be measured.
    """
    require_columns(df, [time, event])
    t = numeric_column(df, time)
    if at < 0:
        raise ValueError(f"landmark must be >= 0, got {at}")
    out = df.loc[t > at].copy()
    out[time] = t[t > at] - at
    return out
