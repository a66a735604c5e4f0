"""Cumulative incidence of competing causes (Aalen-Johansen) with Gray's variance and K-sample test.

Numbers as R ``cmprsk::cuminc`` (Gray 1988): the estimate of cause k at time t is
F_k(t) = sum over event times s <= t of S(s-) d_k(s) / n(s), with S the Kaplan-Meier of any cause; its
variance is the delta-method estimator of cmprsk (updated at the cause's own event times); ``at`` reads the
step function as ``cmprsk::timepoints`` (NaN after a group's last follow-up time). The CI, which cmprsk does
not give, is the log-log interval F^exp(+-z se / (F log F)) (Pintilie 2006; kept inside (0, 1)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis._inputs import check_time, numeric_column, require_columns
from analysis.competing.gray import gray_test

__all__ = ["CumInc", "cuminc"]

TABLE_COLUMNS = ["group", "cause", "time", "estimate", "variance", "lower", "upper"]


@dataclass(frozen=True)
class CumInc:
    """Cumulative incidence per group and cause.

    ``table``: group, cause, time, estimate, variance, lower, upper at every time the cause occurs in the
    group (the value just after the jump). ``test``: Gray's test per cause across groups (index cause;
    columns stat, df, p), empty with one group. ``last``: each group's largest follow-up time.
    """

    table: pd.DataFrame
    test: pd.DataFrame
    last: pd.Series
    causes: tuple
    groups: tuple
    conf_level: float = 0.95

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """Return the estimates at ``times`` (same columns as ``table``): 0 before the first event, NaN after
        the group's last follow-up time."""
        rows = []
        for g in self.groups:
            for c in self.causes:
                part = self.table[(self.table["group"] == g) & (self.table["cause"] == c)]
                for t in sorted({float(v) for v in times}):
                    rows.append(self._value(part, g, c, t))
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    def _value(self, part: pd.DataFrame, group: object, cause: object, t: float) -> dict[str, object]:
        row: dict[str, object] = {"group": group, "cause": cause, "time": t}
        if t > self.last[group] or t < 0:
            return {**row, "estimate": np.nan, "variance": np.nan, "lower": np.nan, "upper": np.nan}
        before = part[part["time"] <= t]
        if before.empty:
            return {**row, "estimate": 0.0, "variance": 0.0, "lower": np.nan, "upper": np.nan}
        last = before.iloc[-1]
        return {**row, "estimate": last["estimate"], "variance": last["variance"], "lower": last["lower"],
                "upper": last["upper"]}


def _frame(df: pd.DataFrame, time: str, event: str, group: str | None, strata: str | None) -> pd.DataFrame:
    columns = [time, event] + [c for c in (group, strata) if c]
    require_columns(df, columns)
    out = pd.DataFrame({"time": numeric_column(df, time), "status": df[event]}, index=df.index)
    out["group"] = df[group] if group else "all"
    out["strata"] = df[strata] if strata else 1
    out = out.dropna()
    if out.empty:
        raise ValueError(f"no complete rows for columns {columns}")
    check_time(out["time"], time)
    return out


def cuminc(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    strata: str | None = None,
    cencode: object = 0,
    rho: float = 0.0,
    conf_level: float = 0.95,
) -> CumInc:
    """Estimate the cumulative incidence of every cause in ``event`` (``cencode`` = censored) per ``group``.

    ``strata`` stratifies Gray's test (not the estimates); ``rho`` is its weight power (0: R's default).
    """
    frame = _frame(df, time, event, group, strata)
    causes = tuple(sorted(frame.loc[frame["status"] != cencode, "status"].unique(),
                          key=lambda v: (str(type(v)), v)))
    if not causes:
        raise ValueError(f"event column {event!r} has no events (every row is coded {cencode!r})")
    groups = tuple(sorted(frame["group"].unique(), key=lambda v: (str(type(v)), v)))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    parts = []
    for g in groups:
        part = frame[frame["group"] == g]
        for c in causes:
            parts.append(_one(part["time"].to_numpy(float), (part["status"] != cencode).to_numpy(),
                              (part["status"] == c).to_numpy(), g, c, z))
    # a cause may miss a group
    table = pd.concat([p for p in parts if len(p)], ignore_index=True)[TABLE_COLUMNS]
    tests = []
    if len(groups) > 1:
        codes = frame["group"].map({g: i for i, g in enumerate(groups)}).to_numpy()
        for c in causes:
            kind = np.where(frame["status"] == c, 1, np.where(frame["status"] != cencode, 2, 0))
            stat = gray_test(frame["time"].to_numpy(float), kind, codes, frame["strata"].to_numpy(),
                             len(groups),
                             rho)
            tests.append({"cause": c, "stat": stat, "df": len(groups) - 1,
                          "p": float(stats.chi2.sf(stat, len(groups) - 1))})
    test = pd.DataFrame(tests, columns=["cause", "stat", "df", "p"]).set_index("cause")
    last = frame.groupby("group")["time"].max()
    return CumInc(table=table, test=test, last=last, causes=causes, groups=groups, conf_level=conf_level)


def _one(time: np.ndarray, failed: np.ndarray, cause: np.ndarray, group: object, label: object,
         z: float) -> pd.DataFrame:
    """Estimate and variance of one cause in one group at each of its event times (cmprsk's delta method)."""
    uniq, inv = np.unique(time, return_inverse=True)
    d1 = np.bincount(inv, weights=cause.astype(float), minlength=len(uniq))
    d2 = np.bincount(inv, weights=(failed & ~cause).astype(float), minlength=len(uniq))
    at_risk = np.bincount(inv, minlength=len(uniq))[::-1].cumsum()[::-1].astype(float)
    s_before, f, v1, v2, v3 = 1.0, 0.0, 0.0, 0.0, 0.0
    rows = []
    for k in np.flatnonzero(d1 + d2 > 0):
        n, a, b = at_risk[k], d1[k], d2[k]
        s_after = s_before * (n - a - b) / n
        f = f + s_before * a / n
        if b > 0 and s_after > 0:
            w = s_before**2 * (1 - (b - 1) / (n - 1) if b > 1 else 1.0) * b / n**2
            v1, v2, v3 = v1 + (f / s_after) ** 2 * w, v2 + f / s_after**2 * w, v3 + w / s_after**2
        if a > 0:
            w = s_before**2 * (1 - (a - 1) / (n - 1) if a > 1 else 1.0) * a / n**2
            inv_s = 1 / s_after if s_after > 0 else 0.0
            g = 1 + inv_s * f
            v1, v2, v3 = v1 + g * g * w, v2 + inv_s * g * w, v3 + inv_s**2 * w
            rows.append((uniq[k], f, v1 + f * f * v3 - 2 * f * v2))
        s_before = s_after
    out = pd.DataFrame(rows, columns=["time", "estimate", "variance"])
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(out["variance"].to_numpy())
        est = out["estimate"].to_numpy()
        scale = np.exp(z * se / (est * np.log(est)))
        inside = (est > 0) & (est < 1)
        out["lower"] = np.where(inside, est**(1 / scale), np.nan)
        out["upper"] = np.where(inside, est**scale, np.nan)
    out.insert(0, "cause", label)
    out.insert(0, "group", group)
    return out
