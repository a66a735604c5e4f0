"""Kaplan-Meier estimates (Greenwood variance, R's CI transforms and median rules) and fixed-time rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis._inputs import require_columns, survival_frame
from analysis.survival.timing import Timing, apply_timing

__all__ = ["KaplanMeier", "km", "km_at", "quantile_time"]


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
    timing: Timing = field(default_factory=Timing)


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


def quantile_time(times: np.ndarray, curve: np.ndarray, q: float = 0.5) -> float:
    """First time where ``curve`` falls to ``q`` or below (R ``survmean``'s rule, used for the printed
    median).

    When the curve sits exactly at ``q`` and falls below it later, the midpoint of the flat stretch; when it
    stays at ``q`` to the end, the first time (R). Missing band values (S = 0) are skipped.
    """
    tolerance = np.finfo(float).eps ** 0.5  # as R's all.equal
    keep = ~np.isnan(curve) & (curve < q + tolerance)
    if not keep.any():
        return float("nan")
    x, y = times[keep], curve[keep]
    if abs(y[0] - q) < tolerance and (y < y[0]).any():
        return float((x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2)
    return float(x[0])


def _one_group(t: np.ndarray, e: np.ndarray, conf_type: str, z: float) -> tuple[pd.DataFrame, dict]:
    """One curve: the table at every distinct time, and n, events, median with its CI."""
    uniq, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=e, minlength=len(uniq))
    n_total = np.bincount(inv, minlength=len(uniq)).astype(float)
    n_risk = n_total[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - n_event / n_risk)
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    lower, upper = _bands(surv, np.cumsum(term), conf_type, z)
    table = pd.DataFrame({"time": uniq, "n_risk": n_risk.astype(int), "n_event": n_event.astype(int),
                          "n_censor": (n_total - n_event).astype(int), "surv": surv, "lower": lower,
                          "upper": upper})
    median = {"n": len(t), "events": int(e.sum()), "median": quantile_time(uniq, surv),
              "lower": quantile_time(uniq, lower),  # NaN where S = 0: no information, never a crossing
              "upper": quantile_time(uniq, upper)}
    return table, median


def km(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    *,
    post_baseline: Sequence[str] = (),
    landmark: float | None = None,
    draw_day: str | None = None,
    allow_post_baseline: bool = False,
) -> KaplanMeier:
    """Kaplan-Meier curves (Greenwood variance) for all rows or per level of ``group``.

    ``conf_type="log"`` is R's default (matches statsmodels ``SurvfuncRight``); ``"log-log"`` matches
    lifelines. The median and its CI are the first times where the curve and its lower/upper bands fall to
    0.5 (Brookmeyer-Crowley, with R's rules for a curve sitting exactly at 0.5: ``quantile_time``).
    ``post_baseline``/``landmark``/``draw_day``/``allow_post_baseline``: see ``analysis.survival.timing``.
    """
    if conf_type not in ("log", "log-log"):
        raise ValueError(f"conf_type must be 'log' or 'log-log', got {conf_type!r}")
    df, timing = apply_timing(df, time, event, post_baseline, landmark, draw_day, allow_post_baseline)
    frame = survival_frame(df, time, event, check_events=False)  # no events yet: a flat curve, as R survfit
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
        table, med = _one_group(part[time].to_numpy(), part[event].to_numpy(), conf_type, z)
        tables.append(table.assign(group=lv)[["group", *table.columns]])
        medians.append({"group": lv, **med})
    table = pd.concat(tables, ignore_index=True)
    median = pd.DataFrame(medians).set_index("group")
    return KaplanMeier(table=table, median=median, conf_type=conf_type, conf_level=conf_level, timing=timing)


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
